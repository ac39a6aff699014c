"""``--executor ray``: the shots of a plan spread over a Ray cluster (the ``ray`` extra).

One long-lived worker (a Ray actor) per GPU for the DiT engine, or per CPU for the classic
one (``--workers`` to say otherwise), each keeping its engine warm between shots: weights
load once per worker, not once per shot. Workers take the next shot as they come free;
each shot renders exactly as it does locally (staging folder, render sidecar last), so the
output folder must be on storage every node sees. The driver gathers the outcomes; a
worker that dies costs its shot (reported as failed, retryable) and the others go on.
Workers are given the driver's absolute output path as it is (never resolved again on their
side), and each takes its shot's lock as a local run does (:mod:`paicli.render.lock`; across
nodes only where the shared storage honours ``flock``). The driver holds the output folder
and has refused, before any shot was sent, a plan whose outputs would replace a source.
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path

from paicli import engines
from paicli.errors import EngineUnavailableError, ExitCode
from paicli.media.quiet import c_stderr
from paicli.progress import Progress
from paicli.render.run import ShotOutcome, shot_outcome
from paicli.render.settings import RENDER  # noqa: F401 (a worker unpickles render settings: params_from reads them)


class _Worker:
    """Runs shots in a Ray worker process; the process keeps its imports and any cached
    DiT weights between shots."""

    def __init__(self, out_root: str, settings, loras: tuple, input_colourspace: str | None):
        self.out_root, self.settings = Path(out_root), settings
        self.loras, self.colourspace = loras, input_colourspace

    def render(self, ps, label: str):
        with Progress("none") as quiet:  # the driver shows the shots' progress
            return shot_outcome(ps, label, self.out_root, self.settings, self.loras, self.colourspace, quiet)


def run_on_ray(plan, out_root: Path, settings, *, address: str | None, workers: int | None, loras: tuple = (),
               input_colourspace: str | None = None, progress=None) -> list:
    """Outcomes of this shard's shots, in plan order (see the module notes). ``out_root`` is
    made absolute here, once (``batch.render_plan`` already does): workers do not share the
    driver's working folder, and every outcome must name files as the driver does."""
    out_root = Path(os.path.abspath(out_root))
    try:
        import ray
    except ImportError:
        raise EngineUnavailableError("--executor ray needs Ray (pip install 'paicli[ray]')") from None

    import signal

    ours = signal.getsignal(signal.SIGTERM)  # ray.init installs its own (sys.exit(15), no line): keep paicli's
    try:
        # Ray's own notices (and those of the processes it starts, which inherit this stderr) are
        # not paicli's lines: captured, so a run still ends in its one result or one error line
        with c_stderr():
            ray.init(address=address or None, include_dashboard=False, ignore_reinit_error=True,
                     log_to_driver=False, configure_logging=False)
        if ours is not None:
            signal.signal(signal.SIGTERM, ours)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise EngineUnavailableError(f"cannot reach the Ray cluster at {address or 'a new local instance'}: "
                                     f"{str(e).splitlines()[0][:160]}") from None
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    on_gpu = engines.uses_gpu(settings.engine) and gpus > 0
    count = workers or (gpus if on_gpu else max(1, int(resources.get("CPU", 1))))
    actor = ray.remote(num_gpus=1 if on_gpu else 0, num_cpus=0 if on_gpu else 1, max_restarts=0)(_Worker)
    # the driver's absolute path, as it is: outcomes name files exactly as the local executor does
    idle = [actor.remote(str(out_root), settings, loras, input_colourspace) for _ in range(count)]
    mine = plan.mine()
    outcomes: dict[str, ShotOutcome] = {}
    todo = [ps for ps in mine if ps.status == "ready"]
    for ps in mine:
        if ps.status != "ready":
            outcomes[ps.shot.id] = shot_outcome(ps, "", out_root, settings, loras, input_colourspace, None)
    if progress is not None:
        progress.log(f"ray: {len(todo)} shot(s) on {count} worker(s) ({'GPU' if on_gpu else 'CPU'})")
    queue = list(enumerate(todo, 1))
    running: dict = {}  # object ref -> (shot plan, worker)
    shots = progress.task("shots (ray)", total=len(todo), unit="shots") if progress is not None else nullcontext()
    with shots as task:
        while queue or running:
            while queue and idle:
                n, ps = queue.pop(0)
                worker = idle.pop()
                running[worker.render.remote(ps, f"{n}/{len(todo)}")] = (ps, worker)
            if not running:  # every worker died: what is left cannot run
                for _, ps in queue:
                    outcomes[ps.shot.id] = ShotOutcome(ps, "failed", error="no Ray worker left",
                                                       code=int(ExitCode.TEMPFAIL))
                break
            done, _ = ray.wait(list(running), num_returns=1)
            ps, worker = running.pop(done[0])
            try:
                outcomes[ps.shot.id] = ray.get(done[0])
                idle.append(worker)
                if progress is not None:  # the workers report nothing: the driver logs each shot's decisions
                    for o in outcomes[ps.shot.id].outputs:
                        for line in o.extra.get("decisions", []):
                            progress.log(f"{ps.shot.id}: {line}")
            except ray.exceptions.RayTaskError as e:  # the shot raised something unexpected: a bug
                cause = e.as_instanceof_cause()
                outcomes[ps.shot.id] = ShotOutcome(ps, "failed", error=f"{type(cause).__name__}: "
                                                   f"{str(getattr(e, 'cause', cause)).splitlines()[0][:160]}",
                                                   code=int(ExitCode.SOFTWARE))
                idle.append(worker)
            except ray.exceptions.RayError as e:  # the worker died: its shot is lost, the rest go on
                outcomes[ps.shot.id] = ShotOutcome(ps, "failed", error="ray worker lost: "
                                                   f"{str(e).strip().splitlines()[0][:120]}", code=int(ExitCode.TEMPFAIL))
            if task is not None:
                task.advance()
    return [outcomes[ps.shot.id] for ps in mine if ps.shot.id in outcomes]
