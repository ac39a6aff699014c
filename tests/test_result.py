"""The --json result object: every output with kind, path or pattern, frame range and timecode."""
import io
import json
from fractions import Fraction

import pytest

from paicli.media.timing import Timecode
from paicli.result import CommandResult, OutputFile


def test_result_lists_outputs_with_range_rate_and_timecode():
    r = CommandResult(command="key")
    tc = Timecode.parse("01:00:00;00", Fraction(30000, 1001))
    r.add_output(OutputFile("matte", "out/shot_matte.####.exr", frames=(1001, 1010), timecode=(tc, tc + 9),
                            rate=Fraction(30000, 1001)))
    r.add_output(OutputFile("sidecar", "out/shot.json"))
    buf = io.StringIO()
    r.print_json(buf)
    d = json.loads(buf.getvalue())
    m = d["outputs"][0]
    assert m == {"kind": "matte", "sequence": "out/shot_matte.####.exr", "frame_range": [1001, 1010],
                 "frame_count": 10, "rate": "30000/1001",
                 "timecode": {"start": "01:00:00;00", "end": "01:00:00;09", "drop_frame": True}}
    assert d["outputs"][1] == {"kind": "sidecar", "path": "out/shot.json"}
    assert buf.getvalue().count("\n") == 1  # exactly one JSON object, one line


def test_unknown_output_kind_is_a_bug():
    with pytest.raises(ValueError):
        OutputFile("thumbnail", "x.png")
