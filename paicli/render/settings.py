"""render's settings, each declared once: every setting of replace (each shot renders with
them) and render's own; which of them change a shot's pictures (the shot's key)."""
from __future__ import annotations

from paicli.settings import Schema, Setting, parse_bool, parse_str
from paicli.shot.settings import REPLACE

RENDER = Schema("render", list(REPLACE) + [
    Setting("name_template", "{shot}/v{version}/{shot}_v{version}", "Output names: tokens {shot} {clip} {reel} "
            "{index} {version}, optional trailing .####; folders are created under the output folder.", parse_str),
    Setting("qc", True, "Check every rendered shot with relight-check and link its report (<stem>_qc.html) "
            "from report.html; its verdict never fails the render.", parse_bool, flag="--qc/--no-qc", cli_type=bool),
    Setting("strict", False, "Fail the plan when any shot has no media or no references (default: skip them "
            "with a warning).", parse_bool, flag="--strict/--no-strict", cli_type=bool),
], inherits=("replace",))

NOT_IN_KEY = ("name_template", "strict", "qc")  # settings that do not change a shot's pictures
