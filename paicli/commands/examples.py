"""The examples every ``--help`` ends with: command path -> (command line, what it does).

Taken from README.md's Usage section, so that what a user reads in the terminal and in the
README agree; each line is meant to be copied as it stands (``shot.mov``, ``refs/`` and
``edit.edl`` being the user's own files; ``demo/`` and ``tiny/`` what ``paicli example`` and
``paicli model init-tiny`` write).
"""
from __future__ import annotations

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "paicli": [
        ("paicli example demo/", "a synthetic green-screen shot to try things on"),
        ("paicli key demo/plate.mov", "its key: premultiplied RGBA + matte EXRs in demo/paicli/"),
        ("paicli replace demo/plate.mov --bg demo/refs/", "its background replaced, beside the key"),
        ("paicli relight-check demo/paicli/", "does the foreground sit in the new background?"),
    ],
    "paicli key": [
        ("paicli key shot.mov", "premultiplied RGBA + matte EXRs in paicli/ beside shot.mov, from 1001"),
        ("paicli key shot.mov --force", "again, replacing the first run's results"),
        ("paicli key shot.mov -o key/ --outputs rgba,matte,fg --format prores", "ProRes 4444 with alpha, and more"),
        ("paicli key shot.mov -o key/ --preset fine-hair --garbage-box 0,0,200,1080 --json",
         "a preset, a box that is always screen, and the result as JSON"),
        ("paicli key shot.mov -o key/ --screen-colour 115,148,107", "the screen as an eyedropper reads it"),
    ],
    "paicli replace": [
        ("paicli replace shot.mov --bg refs/", "the finished shot in paicli/: ProRes HQ comp + camera + sidecar"),
        ("paicli replace shot.mov --bg a.png --bg b.png --bg-at 0,95 -o out/ --layers --format exr",
         "two stills anchored at frames 0 and 95; EXR comp and layers"),
        ("paicli replace shot.mov --bg refs/ -o out/ --keep-lighting --camera static --json",
         "no relighting, a locked-off camera, the result as JSON"),
        ("paicli replace shot.mov --bg refs/ -o out/ --engine dit --model tiny/ --steps 4",
         "the DiT path, end to end (tiny/ from `paicli model init-tiny`)"),
    ],
    "paicli render": [
        ("paicli render edit.edl --media-root /media --bg-map shots.toml -o renders/", "every shot, then the conform"),
        ("paicli render edit.edl --media-root /media -o renders/ --plan-only --json", "the plan, nothing rendered"),
        ("sbatch --array=1-8 --wrap 'PAICLI_SHARD_COUNT=8 paicli render edit.edl -o renders/'",
         "one slice per farm task"),
    ],
    "paicli relight-check": [
        ("paicli relight-check renders/003_A001C004/v001", "a render or replace folder: finds everything"),
        ("paicli relight-check shot_comp.mov --matte matte.####.exr --plate plate.mov --bg refs/ --camera cam.json",
         "a composite and what it was made of"),
        ('paicli relight-check paicli/ --json && echo "ship it"', "exit 0 pass/warn, 1 fail"),
    ],
    "paicli probe": [
        ("paicli probe shot.mov plates/A001.####.exr", "rate, frames, timecode, reel, colour, VFR"),
        ("paicli probe shot.mov --json", "the same for scripts"),
    ],
    "paicli convert": [
        ("paicli convert shot.mov -o pulls/ --format exr --frames 01:00:10:00-01:00:14:23 --handles 8",
         "an EXR pull of a timecode range, with handles"),
        ("paicli convert shot.mov -o offline/ --preset offline", "ProRes LT, same timing and reel"),
        ("paicli convert A001.####.exr --rate 24000/1001 -o out/ --prores-profile 4444",
         "a sequence without a rate in its headers to ProRes 4444"),
        ('paicli convert logc.mov --input-colorspace "ARRI LogC4" -o out/ --format exr', "log footage to linear EXR"),
        ("paicli convert shot.mov -o out/ --dry-run", "resolved settings and where each came from"),
    ],
    "paicli example": [
        ("paicli example demo/", "a synthetic green-screen shot to try things on (ground truth in demo/gt/)"),
        ("paicli example demo/ --frames 12", "a shorter one"),
    ],
    "paicli model": [
        ("paicli model init-tiny tiny/", "a tiny random DiT checkpoint in the real on-disk format"),
        ("paicli model info tiny/", "what a checkpoint holds (classes, sizes, dtypes, sha256)"),
    ],
    "paicli model init-tiny": [
        ("paicli model init-tiny tiny/", "a tiny random DiT checkpoint in the real on-disk format"),
        ("paicli replace demo/plate.mov --bg demo/refs/ -o demo/dit/ --engine dit --model tiny/ --steps 4",
         "the DiT path with it, end to end (its output is noise)"),
    ],
    "paicli model info": [
        ("paicli model info tiny/", "what a checkpoint holds (classes, sizes, dtypes, sha256)"),
        ("paicli model info wan2.1-t2v-1.3b/ --json", "the same for scripts"),
    ],
    "paicli model train": [
        ("paicli model train data/ --model wan2.1-t2v-1.3b/ -o lora/ --steps 2000 --rank 32",
         "a LoRA; resumes from lora/checkpoint/"),
        ("paicli replace shot.mov --bg refs/ -o out/ --engine dit --model wan2.1-t2v-1.3b/ "
         "--lora lora/lora.safetensors", "the trained LoRA at work"),
    ],
    "paicli dataset": [
        ("paicli dataset build shots/*.exr keyed/*.mov -o data/ --backgrounds stills/ --size 832x480",
         "training triplets from footage a studio already has"),
    ],
    "paicli dataset build": [
        ("paicli dataset build shots/*.exr keyed/*.mov -o data/ --backgrounds stills/ --size 832x480",
         "training triplets from matted footage and screen shots"),
        ("paicli dataset build plate.mov --matte plate_matte.mov -o data/ --frames 33 --refs 2",
         "footage that keeps its own background"),
    ],
}
