"""Local SageMaker: training and processing engines, and the moto adapter (see backend.py).

Public entry points: ``engine.run_training_job``, ``processing.run_processing_job``,
``backend.install`` / ``uninstall`` / ``installed`` / ``start_local_training_job`` / ``wait_idle`` / ``shutdown``.
Nothing is imported here so that importing one module stays cheap.
"""
