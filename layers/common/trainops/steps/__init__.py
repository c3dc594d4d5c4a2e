"""One module per Lambda handler step. Each imports only what its step needs, so a function's cold start
pays for its own step (benchmarks/cold_start.py). Handlers only parse, call the step, return its result."""
