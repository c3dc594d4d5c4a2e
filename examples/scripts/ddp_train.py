"""Script-mode training on several instances with ``torch.distributed`` (gloo, CPU) and DistributedDataParallel.

Runs in the SageMaker PyTorch container (and trainops' local cloud) on ``resources.instance_count`` instances:

- with ``resources.distribution: torch_distributed`` the toolkit starts it with ``torchrun`` (``--nnodes``,
  ``--node_rank``, ``--master_addr algo-1``), which sets RANK and WORLD_SIZE;
- with ``distribution: none`` (CPU instances) it starts torch.distributed itself: rank from ``SM_CURRENT_HOST``'s
  place in ``SM_HOSTS``, MASTER_ADDR/MASTER_PORT as the PyTorch container sets them (algo-1:7777).

Each instance reads its own share of the ``train`` channel (CSV, label first, no header; give the channel
``distribution: ShardedByS3Key`` so each instance gets different objects), trains a linear model whose gradients
DDP all-reduces across the instances, and prints ``host=... rank=... epoch=... loss=...``. Rank 0 (algo-1) saves
the model to ``SM_MODEL_DIR``: SageMaker uploads algo-1's model directory as model.tar.gz.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def read_channel(directory: Path) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    if not files:
        return [], torch.zeros((0, 1)), torch.zeros((0, 1))
    rows = np.vstack([np.loadtxt(p, delimiter=",", ndmin=2) for p in files])
    names = [p.relative_to(directory).as_posix() for p in files]
    return names, torch.tensor(rows[:, 1:], dtype=torch.float32), torch.tensor(rows[:, :1], dtype=torch.float32)


def start_process_group() -> tuple[int, int]:
    if "RANK" in os.environ:  # torchrun set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
        dist.init_process_group(backend="gloo")
    else:
        hosts = json.loads(os.environ["SM_HOSTS"])
        rank = hosts.index(os.environ["SM_CURRENT_HOST"])
        dist.init_process_group(backend="gloo", rank=rank, world_size=len(hosts))
    return dist.get_rank(), dist.get_world_size()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    args, _ = parser.parse_known_args()
    host = os.environ.get("SM_CURRENT_HOST", "algo-1")
    names, x, y = read_channel(Path(os.environ["SM_CHANNEL_TRAIN"]))
    rank, world = start_process_group()
    print(f"host={host} rank={rank} world_size={world} files={','.join(names)} rows={len(x)}", flush=True)
    torch.manual_seed(0)  # every rank starts from the same weights (DDP also broadcasts rank 0's)
    model = DistributedDataParallel(torch.nn.Linear(x.shape[1] if len(x) else 1, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.MSELoss()
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()  # DDP all-reduces (averages) the gradients of every rank here
        optimizer.step()
        print(f"host={host} rank={rank} epoch={epoch} loss={loss.item():.6f}", flush=True)
    total = torch.tensor([float(len(x))])
    dist.all_reduce(total)  # rows seen by all ranks together
    if rank == 0:
        model_dir = Path(os.environ["SM_MODEL_DIR"])
        torch.save(model.module.state_dict(), model_dir / "model.pt")
        (model_dir / "training.json").write_text(json.dumps({"world_size": world, "rows": int(total.item())}))
    # no rank exits (closing its gloo sockets) while another may still be reading from it: without this, rank 0
    # failed once in CI with "Connection closed by peer" after rank 1 had finished and exited
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
