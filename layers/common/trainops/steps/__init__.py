"""One module per Lambda handler step. Each imports only what its step needs, so a function's cold start
pays for its own step (benchmarks/cold_start.py; tests/unit/test_structure.py pins what each function loads).
What every step shares is in ``common`` (clients, runs table), what the steps of a run share in ``runs`` (request,
config) and ``launch`` (the job request, adopted jobs); a module only one branch of a step uses (the registry for
incremental training, tuning or Autopilot results at registration) is imported inside that branch.
Handlers only parse, call the step, return its result."""
