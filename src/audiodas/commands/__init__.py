"""The `audiodas` command (`cli.py`) and what its verbs run: `serve.py` (`audiodas serve`: the
supervisor of the HTTP processes and the engine), `process.py` (`audiodas process`: the
pipeline on local files), `models.py` (`audiodas models`: model files from the registries)."""
