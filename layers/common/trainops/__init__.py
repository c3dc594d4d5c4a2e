"""trainops: the shared package of the training controller, shipped in the Lambda layer.

Nothing in here imports the SageMaker Python SDK or pandas: cold start matters.
"""

__version__ = "0.1.0"
