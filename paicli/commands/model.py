"""``paicli model init-tiny DIR`` and ``paicli model info DIR``: DiT checkpoints."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paicli.commands.common import JsonOpt, report
from paicli.engines.checkpoints import describe
from paicli.engines.checkpoints import init_tiny as init_tiny_checkpoint
from paicli.result import CommandResult, OutputFile

HELP = "DiT engine checkpoints: write a tiny random one to try the engine without weights, or describe one."

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False)


@app.command("init-tiny", help="Write a tiny random checkpoint (Wan transformer, VAE, UMT5 text encoder and "
                                "tokenizer, scheduler) in the on-disk format real weights use, so the DiT path runs on a CPU "
                                "in seconds. Its output is noise: it exercises the machinery, not the model.")
def init_tiny(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write (created if missing).")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random weights.")] = 0,
    json_out: JsonOpt = False,
) -> int:
    files = init_tiny_checkpoint(directory, seed=seed)
    result = CommandResult(command="model init-tiny", summary={"checkpoint": str(directory), "tiny": True})
    for f in files:
        result.add_output(OutputFile(kind="model", path=str(f),
                                     format="safetensors" if f.suffix == ".safetensors" else "json"))
    report(result, json_out, lambda: print(f"wrote a tiny random checkpoint to {directory} ({len(files)} files)"))
    return 0


@app.command("info", help="Describe a checkpoint: components, classes, sizes, dtypes, parameter counts, LoRA, "
                          "and a SHA-256 over its weights.")
def info(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A checkpoint folder.")],
    json_out: JsonOpt = False,
) -> int:
    desc = describe(directory)
    result = CommandResult(command="model info", summary=desc)

    def human() -> None:
        print(f"{desc['path']}: {desc['class']}" + (" (tiny random)" if desc["tiny"] else ""))
        for name, c in desc["components"].items():
            sizes = ", ".join(f"{k} {v}" for k, v in c.items() if k not in ("class", "parameters", "dtypes", "files"))
            print(f"  {name}: {c['class']}, {c['parameters']:,} parameters, {'/'.join(c['dtypes'])}; {sizes}")
        text = ("text encoder" if "text_encoder" in desc["components"] else
                "precomputed prompt embeddings" if desc["prompt_embeds"] else "none (give --prompt-embeds)")
        print(f"  scheduler: {desc['scheduler']}; text: {text}; "
              f"LoRA: {', '.join(desc['lora']) or 'none'}")
        print(f"  sha256: {desc['sha256']}")

    report(result, json_out, human)
    return 0
