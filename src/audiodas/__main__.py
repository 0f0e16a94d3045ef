from audiodas.cli import app

app(prog_name="audiodas")
