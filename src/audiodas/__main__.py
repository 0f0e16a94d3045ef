from audiodas.commands.cli import app

app(prog_name="audiodas")
