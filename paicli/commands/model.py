"""``paicli model init-tiny DIR`` and ``paicli model info DIR``: DiT checkpoints."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paicli.commands.common import JsonOpt, ProgressOpt, report
from paicli.commands.helptext import HelpCommand, HelpGroup
from paicli.engines.checkpoints import describe
from paicli.engines.checkpoints import init_tiny as init_tiny_checkpoint
from paicli.result import CommandResult, OutputFile

HELP = "DiT engine checkpoints: write a tiny random one to try the engine without weights, or describe one."

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, cls=HelpGroup)


@app.command("init-tiny", cls=HelpCommand,
             help="Write a tiny random checkpoint (Wan transformer, VAE, UMT5 text encoder and tokenizer, scheduler) "
                  "in the on-disk format real weights use, in about ten seconds, so the DiT path runs end to end on a "
                  "CPU: a few minutes for `paicli example`'s 48 frames at --steps 4. Its output is noise: it exercises "
                  "the machinery, not the model.")
def init_tiny(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write (created if missing).",
                                              readable=False)],
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


@app.command("info", cls=HelpCommand, help="Describe a checkpoint: components, classes, sizes, dtypes, parameter "
                                             "counts, LoRA, and a SHA-256 over its weights.")
def info(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A checkpoint folder.", readable=False)],
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


@app.command("train", cls=HelpCommand,
             help="Fine-tune a Wan checkpoint into PAI-Studio's in-context background replacer: a LoRA (peft, AdamW, "
                  "flow matching on the target's tokens) trained on a dataset of triplets (`paicli dataset build`) "
                  "through the same sequence builder sampling uses. Resumes from OUT/checkpoint/ (same loss curve as "
                  "an uninterrupted run); writes OUT/lora.safetensors for `paicli replace --engine dit --lora`.")
def train(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="A dataset folder (dataset.json, triplets).",
                                            readable=False)],
    model: Annotated[Path, typer.Option("--model", help="The checkpoint folder to fine-tune (diffusers layout).",
                                        readable=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder (created if missing).", readable=False)],
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps.", min=1)] = 1000,
    learning_rate: Annotated[float, typer.Option("--lr", help="AdamW learning rate.", min=0.0)] = 1e-4,
    rank: Annotated[int, typer.Option("--rank", help="LoRA rank.", min=1)] = 16,
    alpha: Annotated[float, typer.Option("--alpha", help="LoRA alpha (strength = alpha / rank).", min=0.0)] = 16.0,
    window: Annotated[int, typer.Option("--window", help="Latent frames per training window (4 pixel frames "
                                                          "each; a shorter triplet is used whole).", min=1)] = 21,
    shift: Annotated[float, typer.Option("--shift", help="Time shift of the drawn noise levels (Wan: 3 at 480p, "
                                                         "5 at 720p).", min=0.1)] = 3.0,
    perturb_light: Annotated[float, typer.Option("--perturb-light", help="Strength (0-1) of the smooth relighting "
                                                                         "the plate gets, so the model learns to "
                                                                         "relight the subject.", min=0.0,
                                                 max=1.0)] = 0.5,
    save_every: Annotated[int, typer.Option("--save-every", help="Steps between checkpoints.", min=1)] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice (windows, noise, references).",
                                      min=0)] = 0,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue from OUT/checkpoint/ when there "
                                                                       "is one.")] = True,
    checkpointing: Annotated[bool, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing",
                                                help="Recompute activations in the backward pass (less memory).")
                             ] = True,
    prompt_embeds: Annotated[Path | None, typer.Option("--prompt-embeds", help="Precomputed text embeddings for "
                                                       "every caption (default: the checkpoint's text encoder).",
                                                       show_default=False, readable=False)] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    dtype: Annotated[str, typer.Option("--dtype", help="auto (bf16 autocast on a GPU, fp32 on a CPU), bf16, fp16, "
                                                       "fp32.")] = "auto",
    progress: ProgressOpt = None,
    json_out: JsonOpt = False,
) -> int:
    from paicli.errors import UsageError
    from paicli.progress import Progress, mode_from
    from paicli.train.run import TrainSettings
    from paicli.train.run import train as run_training

    if device not in ("auto", "cpu", "cuda") or dtype not in ("auto", "bf16", "fp16", "fp32"):
        raise UsageError("--device is auto, cpu or cuda; --dtype auto, bf16, fp16 or fp32")
    s = TrainSettings(steps=steps, learning_rate=learning_rate, rank=rank, alpha=alpha, window=window, shift=shift,
                      seed=seed, save_every=save_every, perturb_light=perturb_light, checkpointing=checkpointing,
                      device=device, dtype=dtype)
    with Progress(mode_from(progress)) as bars:
        done = run_training(dataset, model, output, s, resume=resume, prompt_embeds=prompt_embeds, progress=bars)
    result = CommandResult(command="model train", summary=done["summary"])
    for kind, path in done["files"]:
        result.add_output(OutputFile(kind=kind, path=str(path), format="safetensors" if path.suffix == ".safetensors"
                                     else "json"))
    summary = done["summary"]
    report(result, json_out, lambda: print(f"trained {summary['steps']} steps on {summary['triplets']} triplets: "
                                           f"loss {summary['first_loss']:.4f} -> {summary['final_loss']:.4f}; "
                                           f"wrote {output / 'lora.safetensors'}"))
    return 0
