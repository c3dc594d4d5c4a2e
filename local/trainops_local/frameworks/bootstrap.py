"""The ``train`` command of a SageMaker framework image, run by a local framework environment's Python.

Framework images start a training job by running the training toolkit's ``train``: it reads
``$SAGEMAKER_BASE_DIR`` (``/opt/ml`` on SageMaker), imports the image's ``SAGEMAKER_TRAINING_MODULE`` and calls
it; that module runs the user's entry point with the SM_* environment and ``--name value`` arguments, installs
``requirements.txt``, writes ``output/failure`` on error. This file does exactly that, with two local
adaptations and nothing else:

- the hosts of ``resourceconfig.json`` (``algo-1``, ...) resolve to this machine (on SageMaker they resolve to
  the job's instances; the toolkit waits until they do): a job of several instances has them in its own
  /etc/hosts (``trainops_local.sagemaker.hosts``), a job of one is given ``127.0.0.1`` here when they do not;
- where the image's framework module is not published on PyPI (the scikit-learn and XGBoost images), a
  stand-in holding that module's script-mode code is registered under its name in this process only.

It runs under every Python a framework image uses (3.7 and later): no annotations, no walrus.
Usage: ``python bootstrap.py sagemaker-training|sagemaker-containers``.
"""

import importlib
import os
import socket
import sys
import types


def _resolve_hosts_locally():
    real = socket.gethostbyname

    try:
        with open("/etc/hosts") as hosts:
            listed = set(name for line in hosts for name in line.split("#")[0].split()[1:])
    except OSError:
        listed = set()

    def gethostbyname(host):
        if host.startswith("algo-") and host not in listed:
            return "127.0.0.1"
        return real(host)

    socket.gethostbyname = gethostbyname


def _sklearn_image_main():
    # sagemaker_sklearn_container/training.py of github.com/aws/sagemaker-scikit-learn-container
    from sagemaker_training import entry_point, environment, runner

    env = environment.Environment()
    entry_point.run(
        uri=env.module_dir,
        user_entry_point=env.user_entry_point,
        args=env.to_cmd_args(),
        env_vars=env.to_env_vars(),
        runner_type=runner.ProcessRunnerType,
    )


def _xgboost_image_main():
    # sagemaker_xgboost_container/training.py of github.com/aws/sagemaker-xgboost-container (script mode; its
    # algorithm mode is the built-in XGBoost algorithm, which the local cloud runs with its own engine)
    from sagemaker_containers.beta import framework

    env = framework.training_env()
    framework.modules.run_module(
        env.module_dir, env.to_cmd_args(), env.to_env_vars(), env.module_name, capture_error=False
    )
    sys.exit(0)


STAND_INS = {
    "sagemaker_sklearn_container.training": _sklearn_image_main,
    "sagemaker_xgboost_container.training": _xgboost_image_main,
}


def _register_stand_in():
    module_name = os.environ.get("SAGEMAKER_TRAINING_MODULE", "").split(":")[0]
    if module_name not in STAND_INS:
        return
    try:
        importlib.import_module(module_name)
    except ImportError:
        stand_in = types.ModuleType(module_name)
        stand_in.main = STAND_INS[module_name]
        sys.modules[module_name] = stand_in


def main():
    toolkit = sys.argv[1] if len(sys.argv) > 1 else "sagemaker-training"
    _register_stand_in()
    _resolve_hosts_locally()
    if toolkit == "sagemaker-containers":
        from sagemaker_containers.cli.train import main as train
    else:
        from sagemaker_training.cli.train import main as train
    train()


if __name__ == "__main__":
    main()
