"""Background work: job kinds, the sandboxed child runner, the huey queue and the worker."""
