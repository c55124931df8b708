"""Bad input is refused with a clear message, exit code 2, before anything big is built.

One table (:data:`CASES`) holds every bad input of the command line: each row is the argv, the
exit code and the regular expressions its message must match. Each row runs in-process through
:func:`edkit.cli.main` and the test asserts the exit code, the message, that no traceback is
printed, and that the answer came before any heavy work: CPU and wall time under a bound, peak
traced memory (tracemalloc: Python and numpy allocations) and the growth of the process's peak
resident size under a bound. Unless a row says ``build=True``, the QuSpin build path
(``make_space``, ``operator_matrix``) is replaced by a trap, so a refusal that came only after
building a basis fails the row.

:data:`API_CASES` does the same for :mod:`edkit.api` and the model methods: an
:class:`~edkit.core.errors.EdkitError` with a clear message, never another exception.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import resource
import signal
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import edkit.api
import edkit.engine.backend_quspin
import edkit.engine.solve
import edkit.models  # noqa: F401  (imported up front so timings measure the refusal only)
import edkit.workflows.compare  # noqa: F401
import edkit.workflows.sweep  # noqa: F401
from edkit.cli import main
from edkit.core.errors import EdkitError
from edkit.core.units import format_count
from edkit.engine.planning import TooLargeError, check_fits, plan
from edkit.engine.solver import ConvergenceError, lowest

#: Bounds of one refusal: CPU seconds, wall seconds (generous: the 2-core test machine is shared),
#: bytes traced by tracemalloc at peak, growth of the process's peak resident size.
CPU_BOUND, WALL_BOUND = 3.0, 6.0
TRACED_BOUND = RSS_BOUND = 200 * 2**20
#: A row still running after this many seconds is stopped and fails (an endless read, a huge build).
HANG_SECONDS = 30


def _trap_builds(monkeypatch) -> None:
    """Make any attempt to build a basis or a matrix fail."""

    def trap(*args, **kwargs):
        raise AssertionError("a sector was built before the input was refused")

    for name in ("make_space", "operator_matrix"):
        monkeypatch.setattr(edkit.engine.backend_quspin, name, trap)
        monkeypatch.setattr(edkit.engine.solve, name, trap, raising=False)  # names imported there


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if anything tries to build a basis or a matrix."""
    _trap_builds(monkeypatch)


# ---------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    """One bad input: ``edkit argv`` exits with ``code`` and a message matching every regex.

    ``{dir}`` in an argument is replaced by a directory of prepared bad files (see ``bad_files``).
    """

    id: str
    argv: tuple[str, ...]
    code: int
    match: tuple[str, ...]
    build: bool = False  # the refusal may need a built basis (occupation constraints)
    env: dict[str, str] = field(default_factory=dict)
    cpu: float = CPU_BOUND


def case(id: str, argv: str | list[str], *match: str, code: int = 2, **kw) -> Case:
    """A row; ``argv`` as one string is split on spaces."""
    args = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    return Case(id, args, code, match, **kw)


NUMBER_VALUES = [  # --param U=<value>: numbers only, never evaluated
    ("eval-exit", "__import__('sys').exit(7)", "is not a number"),  # evaluated, the exit code would be 7
    ("eval-import", "__import__('os')", "is not a number"),
    ("overflow", "1e999", "not a finite number"),
    ("overflow-negative", "-1e999", "not a finite number"),
    ("nan", "nan", "is not a number"),
    ("inf", "inf", "is not a number"),
    ("division-by-zero", "1/0", "division by zero"),
    ("product", "2*3", "is not a number"),
    ("symbol", "U", "is not a number"),
    ("imaginary", "4j", "is not a number"),
    ("hex", "0x10", "is not a number"),
    ("underscore", "1_000", "is not a number"),
    ("underflow", "1e-400", "too small for a double.*read as 0"),  # issue 13.7: was read as U = 0
    ("underflow-negative", "-1e-400", "too small for a double"),
    ("subnormal", "1e-310", "too small for a double"),
    ("underflow-fraction", "1e-200/1e200", "too small for a double"),
    ("exponent-digits", "0e-99999999", "exponent out of range"),
    ("huge-exponent", "1e99999999", "not a finite number"),
    ("tiny-exponent", "1e-99999999", "too small for a double"),
    ("full-width-digit", "\uff14", "not a number.*ASCII"),  # U=４ was read as 4
    ("full-width-digits", "\uff11\uff0e\uff15", "not a number.*ASCII"),
    ("arabic-indic-digit", "\u0664", "not a number.*ASCII"),
    ("devanagari-digit", "\u096a", "not a number.*ASCII"),
    ("superscript-digit", "\u00b2", "not a number.*ASCII"),
    ("boolean-word", "True", "is not a number"),
    ("very-long", "1" * 5000, "more than 100 characters"),
    ("empty-fraction", "1/", "is not a number"),
    ("two-slashes", "1/2/3", "is not a number"),
]

CASES: list[Case] = [
    # ------------------------------------------------------------ model and parameter names
    *[case(f"unknown-model-{cmd}", f"{cmd} hubbbard --L 3",
           r"unknown model 'hubbbard'", r"known models:.*\bhubbard\b")
      for cmd in ("spectrum", "gaps", "correlations", "plan")],
    case("unknown-parameter-lists-known", "spectrum kbp --L 3 --param V=1",
         r"unknown parameter\(s\) V", r"\bU\b.*\bt_perp\b.*\bt_m\b.*\bmu_p\b.*\bmu_m\b"),
    case("parameter-of-another-model", "gaps hubbard --L 3 --param t_perp=1",
         r"unknown.*t_perp|t_perp.*unknown"),
    *[case(f"value-{name}", ["spectrum", "kbp", "--L", "3", "--param", f"U={value}"], reason)
      for name, value, reason in NUMBER_VALUES],
    *[case(f"malformed-pair-{k}", ["spectrum", "kbp", "--L", "3", "--param", item], "expects NAME=VALUE")
      for k, item in enumerate(["U", "U=", "=4", " = "])],
    # ------------------------------------------------------------------ repeated options (13.6)
    *[case(f"repeated-param-{cmd}", f"{cmd} hubbard --L 2 --param U=4 --param U=8",
           r"--param U is given twice")
      for cmd in ("spectrum", "gaps", "plan", "correlations")],
    case("repeated-param-spaces", ["spectrum", "hubbard", "--L", "2", "--param", "U=4", "--param", " U =8"],
         r"--param U is given twice"),
    *[case(f"repeated-sector-{cmd}", f"{cmd} hubbard --L 2 --sector N=2 --sector N=1",
           r"--sector N is given twice")
      for cmd in ("spectrum", "gaps", "plan", "correlations")],
    case("repeated-only", "gaps hubbard --L 2 --only spin_gap --only spin_gap",
         r"--only spin_gap is given twice"),
    case("repeated-symmetry", "spectrum hubbard --L 3 --symmetry P --symmetry P=1",
         r"--symmetry P is given twice"),
    case("repeated-L", "spectrum hubbard --L 2 --L 3", r"argument --L: given twice"),
    case("repeated-bc", "gaps hubbard --L 3 --bc open --bc periodic", r"argument --bc: given twice"),
    case("repeated-nev", "spectrum hubbard --L 2 --nev 1 --nev 2", r"argument --nev: given twice"),
    case("repeated-reference", "correlations hubbard --L 2 --reference 0 --reference 1",
         r"argument --reference: given twice"),
    case("repeated-method", "spectrum hubbard --L 2 --method auto --method stored",
         r"argument --method: given twice"),
    case("repeated-sweep-param", "sweep hubbard --L 2 --param U=1 --param U=2 --workers 1 --no-progress",
         r"U is given twice"),
    # --------------------------------------------------------------------------- sectors
    case("sector-not-a-number", "spectrum kbp --L 3 --sector N=six", "is not a number"),
    case("sector-overflow", "spectrum kbp --L 3 --sector N=1e999", "not a finite number"),
    case("sector-boolean-word", "spectrum hubbard --L 2 --sector N=True", "is not a number"),
    case("sector-full-width", "spectrum hubbard --L 2 --sector N=\uff12", "not a number.*ASCII"),
    case("sector-underflow", "spectrum hubbard --L 2 --sector Sz=1e-400", "too small for a double"),
    case("sector-sz-huge", "plan hubbard --L 2 --sector Sz=1e308", r"Sz=1e\+308 is impossible"),
    case("control-characters-in-a-name", ["spectrum", "hubbard", "--L", "2", "--param", "U\r\x1b[2J=1"],
         r"unknown parameter\(s\) 'U\\r\\x1b\[2J'"),
    case("n-beyond-twice-the-sites", "spectrum kbp --L 3 --sector N=13",
         r"N=13", r"6 orbitals hold at most 12 electrons"),
    case("negative-n", "spectrum hubbard --L 3 --sector N=-1", r"N=-1"),
    case("non-integer-n", "spectrum hubbard --L 3 --sector N=2.5", r"N must be an integer"),
    *[case(f"sz-parity-{cmd}", f"{cmd} kbp --L 3 --sector N=6 --sector Sz=0.5", "parity", r"Sz=0\.5")
      for cmd in ("spectrum", "gaps", "correlations", "plan")],
    case("sz-not-a-half-integer", "spectrum hubbard --L 3 --sector N=2 --sector Sz=0.3", "multiple of 1/2"),
    case("sz-too-large", "spectrum hubbard --L 2 --sector N=2 --sector Sz=2", "impossible with 2 electrons"),
    case("unknown-sector-name", "spectrum kbp --L 3 --sector Q=1", r"unknown sector name\(s\) \['Q'\]"),
    # the occupation constraints are applied to a built basis: a small build is allowed here
    case("kondo-sector-without-states", "spectrum kondo --L 3 --sector N=7", "no states|outside", build=True),
    # ---------------------------------------------------------------------------- lattice
    *[case(f"periodic-L2-{model}", f"spectrum {model} --L 2 --bc periodic", "L >= 3", "L=2")
      for model in ("hubbard", "kbp", "kbp-eff", "anderson", "kondo")],
    *[case(f"non-positive-L-{L}", f"spectrum hubbard --L {L}", "L must be a positive integer")
      for L in ("0", "-3")],
    case("plan-non-positive-L", "plan kbp --L 0", "L must be a positive integer"),
    case("fixed-size-model-L", "spectrum hamo --L 3", "fixed four-orbital cluster", "L=3"),
    case("missing-L", "spectrum hubbard", "--L"),
    *[case(f"reference-out-of-range-{ref}", f"correlations hubbard --L 3 --reference {ref}",
           "--reference", r"0\.\.2") for ref in ("3", "-1")],
    # ---------------------------------------------------------------------------- symmetries
    case("odd-ring-particle-hole-kbp", "spectrum kbp --L 5 --bc periodic --symmetry C", "bipartite", "m4-m0"),
    case("odd-ring-particle-hole-hubbard", "spectrum hubbard --L 5 --bc periodic --param mu=2 --symmetry C",
         "bipartite", "c4-c0"),
    case("unknown-symmetry", "spectrum hubbard --L 3 --symmetry q", r"unknown symmetry 'q'"),
    case("non-integer-quantum-number", "spectrum hubbard --L 3 --symmetry k=1.5", "integer quantum number"),
    case("gaps-symmetry-value", "gaps hubbard --L 3 --symmetry P=1", "without a value"),
    case("blocks-and-symmetry", "spectrum hubbard --L 3 --blocks all --symmetry P", "either --blocks all or"),
    # ------------------------------------------------------------------------ argparse errors
    case("bad-bc", "spectrum hubbard --L 3 --bc twisted", "invalid choice"),
    case("bad-bc-plan", "plan hubbard --L 3 --bc twisted", "invalid choice"),
    case("bad-L", "spectrum hubbard --L three", "invalid int value"),
    case("bad-L-float", "spectrum hubbard --L 3.5", "invalid int value"),
    case("bad-nev", "spectrum hubbard --L 3 --nev two", "invalid int value"),
    case("unknown-command", "nonsense", "invalid choice"),
    case("bad-only", "gaps hubbard --L 4 --only charge", "invalid choice"),
    case("bad-method", "spectrum hubbard --L 4 --method fast", "invalid choice"),
    case("unknown-option", "spectrum hubbard --L 2 --temperature 1", "unrecognized arguments"),
    # ------------------------------------------------------------------------- nev (13.1)
    case("nev-zero", "spectrum hubbard --L 3 --nev 0", "--nev"),
    case("nev-negative", "spectrum hubbard --L 3 --nev -1", "--nev"),
    case("sweep-nev-zero", "sweep hubbard --L 2 --observable spectrum --nev 0 --workers 1 --no-progress",
         "--nev"),
    # a dense fallback for a large nev is planned and refused (13.1)
    case("nev-million", "spectrum hubbard --L 12 --bc periodic --nev 1000000",
         r"(?i)nev|too large|does not fit", r"TiB|GiB|more levels|at most"),
    case("nev-dense-kbp", "spectrum kbp --L 5 --nev 5000", r"(?i)nev|too large|does not fit"),
    # ------------------------------------------------------------------------------ memory
    # sizes in engineering units (issue 13.8): "dimension 1.9e22", "~31.5 YiB needed"
    case("hubbard-L40-too-large", "spectrum hubbard --L 40", "too large",
         f"dimension {format_count(math.comb(40, 20) ** 2)}", "iB needed", "GiB available", cpu=1.0),
    *[case(f"kbp-L20-too-large-{cmd}", f"{cmd} kbp --L 20",
           f"dimension {format_count(math.comb(40, 20) ** 2)}", "GiB available", cpu=1.0)
      for cmd in ("gaps", "correlations")],
    # --nev 2: the ground energy alone would now go matrix-free (its 14 KiB fit in the limit)
    case("memory-limit-env-var", "spectrum kbp --L 3 --nev 2", f"dimension {math.comb(6, 3) ** 2:,}",
         "refusing to build",
         env={"EDKIT_MEMORY_LIMIT": "100000"}),
    case("hubbard-L1000-too-large", "spectrum hubbard --L 1000", "too large"),
    case("hubbard-L1000000-refused-before-building", "spectrum hubbard --L 1000000",
         "longer than edkit builds"),
    # --------------------------------------------------------------------- compare (13.8)
    case("compare-directory", "compare /tmp", "is a directory"),
    case("compare-dev-zero", "compare /dev/zero", "not a regular file", "character device"),
    case("compare-missing", "compare {dir}/missing.csv", "no such file"),
    case("compare-missing-parent", "compare {dir}/empty.csv/x.csv", "no such file"),
    case("compare-pipe", "compare {dir}/pipe.csv", "not a regular file", "pipe"),
    case("compare-binary", "compare {dir}/binary.csv", "not UTF-8"),
    case("compare-empty", "compare {dir}/empty.csv", "empty"),
    case("compare-oversized", "compare {dir}/huge.csv", "more than", "MiB"),
    case("compare-duplicate-column", "compare {dir}/dup.csv", "column 'U' appears twice"),
    case("compare-cell-not-a-number", "compare {dir}/abc.csv", r"row 1 U.*'abc' is not a number"),
    case("compare-cell-full-width", "compare {dir}/fullwidth.csv", "not a number.*ASCII"),
    case("compare-cell-underflow", "compare {dir}/underflow.csv", "too small for a double"),
    case("compare-json-boolean", "compare {dir}/boolean.json", "U=True is a boolean"),
    case("compare-json-infinite", "compare {dir}/infinite.json", "not a finite number"),
    case("compare-json-deep", "compare {dir}/deep.json", "not valid JSON"),
    case("compare-json-invalid", "compare {dir}/invalid.json", "not valid JSON"),
    # Sz = 1e308 used to overflow in round(2 * Sz) (an internal error)
    case("compare-sz-huge", "compare {dir}/szhuge.csv", r"(?i)Sz.*impossible|impossible.*Sz"),
    case("compare-family-column-on-another-model", "compare {dir}/family.csv", "'binding' does not apply"),
    case("sweep-family-observable-on-another-model",
         "sweep hubbard --L 2 --observable binding --workers 1 --no-progress", "does not apply to hubbard"),
    case("compare-extra-cells", "compare {dir}/extra.csv", "more cells than the header"),
    case("compare-no-model", "compare {dir}/nomodel.csv", "no model"),
    case("compare-negative-atol", "compare {dir}/abc.csv --atol -1", "atol must be a finite number >= 0"),
    case("compare-repeated-option", "compare {dir}/abc.csv --L 2 --L 3", "argument --L: given twice"),
    # ------------------------------------------------------------------------------- sweep
    *[case(f"sweep-range-{name}", ["sweep", "hubbard", "--L", "2", "--param", f"U={spec}", "--workers", "1",
                                   "--no-progress"], message)
      for name, spec, message in [
          ("reversed", "3:1:3", "reversed"),
          ("count-zero", "1:2:0", "positive integer"),
          ("count-text", "1:2:x", "positive integer"),
          ("duplicates", "1,1", "duplicate values"),
          ("repeats-one-value", "1:1:3", "repeats one value"),
          ("one-point", "1:2:1", "one point but start != stop"),
          ("four-parts", "1:2:3:4", "start:stop:count"),
          ("underflow", "1e-400:1:2", "too small for a double"),
          ("full-width", "\uff11:2:2", "not a number.*ASCII"),
          ("text", "a:b:2", "is not a number"),
          ("empty-item", "1,,2", "is not a number|empty"),
          ("too-many-points", "0:1:100000000", "more than a sweep should hold"),
      ]],
    case("sweep-L-zero", "sweep hubbard --L 0 --workers 1 --no-progress",
         "L: sizes must be positive integers"),
    case("sweep-L-fraction", "sweep hubbard --L 2.5 --workers 1 --no-progress", "positive integers"),
    case("sweep-unknown-model", "sweep hubbbard --L 2 --workers 1 --no-progress", "unknown model 'hubbbard'"),
    case("sweep-unknown-parameter", "sweep hubbard --L 2 --param V=1 --workers 1 --no-progress",
         r"unknown parameter\(s\) V"),
    # every output path is checked before any work (13.2)
    case("sweep-csv-missing-directory",
         "sweep hubbard --L 2 --param U=1 --workers 1 --no-progress --csv /nonexistent/dir/r.csv",
         r"/nonexistent/dir/r\.csv", r"(?i)does not exist|no such|cannot"),
    case("sweep-hdf5-directory", "sweep hubbard --L 2 --param U=1 --workers 1 --no-progress --hdf5 {dir}",
         r"(?i)is a directory"),
    case("sweep-out-proc", "sweep hubbard --L 2 --param U=1 --workers 1 --no-progress --out /proc/r.db",
         r"/proc/r\.db", r"(?i)cannot|not writable|read-only|permission|does not accept",
         r"^(?!.*not an edkit results store)"),
    # ------------------------------------------------------------------------------ verify
    case("verify-unknown-name", "verify no-such-check", "no-such-check", "kbp-to-anderson"),
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> Path:
    """A directory of bad results files for ``edkit compare`` (the ``{dir}`` of the table)."""
    d = tmp_path_factory.mktemp("bad_input")
    os.mkfifo(d / "pipe.csv")  # opening it would block forever: must be refused from its type
    (d / "binary.csv").write_bytes(b"\xff\xfe\x00\x01model,L\x80\n")
    (d / "empty.csv").write_text("")
    with open(d / "huge.csv", "wb") as fh:  # sparse: 1 GiB of size, no disk used
        fh.truncate(2**30)
    (d / "dup.csv").write_text("model,L,U,U,energy\nhubbard,2,1,2,-1\n")
    (d / "abc.csv").write_text("model,L,U,energy\nhubbard,2,abc,1\n")
    (d / "fullwidth.csv").write_text("model,L,U,energy\nhubbard,2,\uff14,1\n", encoding="utf-8")
    (d / "underflow.csv").write_text("model,L,U,energy\nhubbard,2,1e-400,1\n")
    (d / "boolean.json").write_text(json.dumps([{"model": "hubbard", "L": 2, "U": True, "energy": -1}]))
    (d / "infinite.json").write_text('[{"model": "hubbard", "L": 2, "U": Infinity, "energy": -1}]')
    (d / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (d / "invalid.json").write_text('[{"model": "hubbard",')
    (d / "szhuge.csv").write_text("model,L,N,Sz,energy\nhubbard,2,2,1e308,-1\n")
    (d / "family.csv").write_text("model,L,U,trion_binding\nhubbard,2,4,0.1\n")
    (d / "extra.csv").write_text("model,L,energy\nhubbard,2,-1,5\n")
    (d / "nomodel.csv").write_text("L,U,energy\n2,1,1\n")
    return d


class _Hang(BaseException):
    """Raised by the alarm in a row that runs far past its bound (not caught by ``main``)."""


def _run(argv: list[str]) -> tuple[int, float, float, int, int]:
    """``main(argv)`` with its exit code, CPU and wall seconds, traced peak and peak-RSS growth."""

    def alarm(signum, frame):
        raise _Hang(f"still running after {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    c0, t0 = time.process_time(), time.perf_counter()
    signal.alarm(HANG_SECONDS)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    return code, cpu, wall, traced, rss


@pytest.fixture(scope="module", autouse=True)
def warm_imports():
    """Load what the refusals import lazily, so that the time bound measures the refusal only."""
    import edkit.engine.blocks  # noqa: F401
    import edkit.engine.symmetry  # noqa: F401
    import mappings.verifications  # noqa: F401

    main(["plan", "hubbard", "--L", "2", "--json"])


def test_the_table_is_large_and_its_ids_unique():
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("row", CASES, ids=[c.id for c in CASES])
def test_bad_input(row: Case, capsys, monkeypatch, bad_files):
    for name, value in row.env.items():
        monkeypatch.setenv(name, value)
    if not row.build:
        _trap_builds(monkeypatch)
    capsys.readouterr()
    code, cpu, wall, traced, rss = _run([a.replace("{dir}", str(bad_files)) for a in row.argv])
    out, err = capsys.readouterr()
    assert code == row.code, (code, out[-2000:], err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = err.strip().splitlines()
    assert lines, "no message"
    if lines[0].startswith("usage:"):  # argparse: usage, then "edkit ...: error: ..."
        assert "error:" in lines[-1]
    else:
        assert err.startswith("edkit: error: "), err
        assert out == ""
        assert len(lines) == 1, err
        assert not any(ord(c) < 32 and c not in "\n\t" for c in err), repr(err)  # escaped
    for pattern in row.match:
        assert re.search(pattern, err, re.M), (pattern, err)
    assert cpu < row.cpu, f"refusal took {cpu:.2f} s of CPU"
    assert wall < WALL_BOUND, f"refusal took {wall:.2f} s"
    assert traced < TRACED_BOUND, f"refusal traced {traced / 2**20:.0f} MiB"
    assert rss < RSS_BOUND, f"peak resident size grew by {rss / 2**20:.0f} MiB"


# ------------------------------------------------------------------------ the numeric API
def _resolve(name: str, values: dict) -> Callable[[], object]:
    from edkit.models import build_model

    return lambda: build_model(name, 2).resolve(values)


def _sector(values: dict) -> Callable[[], object]:
    from edkit.models import build_model

    return lambda: build_model("hubbard", 2).resolve_sector(values)


API_CASES = [
    ("resolve-boolean", _resolve("hubbard", {"U": True}), "U=True is a boolean"),
    ("resolve-numpy-boolean", _resolve("hubbard", {"U": np.True_}), "is a boolean"),
    ("resolve-full-width", _resolve("hubbard", {"U": "\uff14"}), "not a number.*ASCII"),
    ("resolve-underflow-text", _resolve("hubbard", {"U": "1e-400"}), "too small for a double"),
    ("resolve-complex", _resolve("hubbard", {"U": 1 + 2j}), "not a real number"),
    ("resolve-none", _resolve("hubbard", {"U": None}), "not a number"),
    ("resolve-infinite", _resolve("hubbard", {"U": float("inf")}), "not a finite number"),
    ("resolve-huge-int", _resolve("hubbard", {"U": 10**400}), "not a finite number"),
    ("resolve-list", _resolve("hubbard", {"U": [1, 2]}), "not a number"),
    ("resolve-unknown", _resolve("hubbard", {"V": 1}), r"unknown parameter\(s\) V"),
    # split_spin used to overflow in round(2 * Sz)
    ("sector-sz-huge", lambda: edkit.models.build_model("hubbard", 2).sector(2, 1e308), "Sz"),
    # booleans are not numbers (13.7)
    ("sector-boolean", _sector({"N": True}), "boolean"),
    ("sector-full-width", _sector({"N": "\uff12"}), "not a number"),
    # (13.1, 13.7)
    ("spectrum-N-boolean", lambda: edkit.api.spectrum("hubbard", {}, N=True, Sz=0, L=2), "boolean"),
    ("spectrum-Sz-boolean", lambda: edkit.api.spectrum("hubbard", {}, N=2, Sz=True, L=2), "boolean"),
    ("spectrum-nev-zero", lambda: edkit.api.spectrum("hubbard", {}, N=2, Sz=0, L=2, nev=0), "nev"),
    ("spectrum-nev-negative", lambda: edkit.api.spectrum("hubbard", {}, N=2, Sz=0, L=2, nev=-1), "nev"),
    ("spectrum-values-boolean", lambda: edkit.api.spectrum("hubbard", {"U": False}, N=2, Sz=0, L=2),
     "boolean"),
    ("compare-boolean", lambda: edkit.workflows.compare.compare_points(
        [{"model": "hubbard", "L": 2, "U": True, "energy": -1}]), "U=True is a boolean"),
    ("compare-huge-int", lambda: edkit.workflows.compare.compare_points(
        [{"model": "hubbard", "L": 2, "U": 10**400, "energy": -1}]), "not a finite number"),
]


@pytest.mark.parametrize("call, pattern", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_refuses_with_an_edkit_error(no_build, call, pattern):
    t0 = time.process_time()
    with pytest.raises(EdkitError, match=pattern):
        call()
    assert time.process_time() - t0 < CPU_BOUND


def test_a_single_gap_name_is_a_list_of_one():
    """Issue 13.7: ``only="charge_gap"`` means ``["charge_gap"]`` (not its letters)."""
    one = edkit.api.gaps("hubbard", {}, N=2, Sz=0, L=2, only="charge_gap")
    listed = edkit.api.gaps("hubbard", {}, N=2, Sz=0, L=2, only=["charge_gap"])
    assert one["charge_gap"] == listed["charge_gap"]


# ------------------------------------------------------------------------------ memory
def test_memory_limit_env_var_leaves_small_sectors_alone(capsys, monkeypatch):
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", "100000")  # bytes
    assert main(["spectrum", "hubbard", "--L", "2", "--json"]) == 0
    capsys.readouterr()


def test_plan_is_monotone_and_check_fits_raises():
    """The estimate grows with the sector dimension; check_fits raises TooLargeError."""
    from edkit.models import build_model

    sizes = []
    for L in (2, 3, 4, 5):
        m = build_model("hubbard", L)
        p = plan(m, m.sector(L, 0 if L % 2 == 0 else 0.5))
        assert p.dimension == math.comb(L, (L + 1) // 2) * math.comb(L, L // 2)
        sizes.append(p.bytes)
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    m = build_model("hubbard", 30)
    with pytest.raises(TooLargeError, match="GiB available"):
        check_fits(m, m.sector(30, 0))


# ---------------------------------------------------------------------------- Lanczos
def _hubbard_matrix(L: int = 8):
    from edkit.engine.backend_quspin import make_space, operator_matrix
    from edkit.models import build_model

    m = build_model("hubbard", L)
    return operator_matrix(make_space(m, m.sector(L, 0)), m.numeric_terms({}))


def test_lanczos_non_convergence_raises_with_residual_and_suggestion():
    H = _hubbard_matrix()  # dimension C(8,4)^2 = 4900, above the dense limit
    assert H.shape[0] == 4900
    with pytest.raises(ConvergenceError) as exc:
        lowest(H, 6, maxiter=1)
    msg = str(exc.value)
    assert "did not converge" in msg and "4900-dimensional" in msg
    assert "residual" in msg
    assert "maxiter" in msg  # the suggestion
    # with the default iteration budget the same call converges
    assert len(lowest(H, 6).energies) == 6


def test_cli_reports_non_convergence_with_exit_code_1(capsys, monkeypatch):
    monkeypatch.setattr(edkit.engine.backends.stored, "lowest", functools.partial(lowest, maxiter=1))
    code = main(["spectrum", "hubbard", "--L", "8", "--nev", "3"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "did not converge" in err and "residual" in err and "Traceback" not in err


def test_lowest_refuses_an_empty_matrix():
    with pytest.raises(ValueError, match="no states"):
        lowest(sp.csr_matrix((0, 0)))


def test_lowest_small_matrix_is_exact():
    """Dense path: a diagonal matrix gives its sorted diagonal."""
    d = np.array([3.0, -1.0, 2.0, 0.5])
    np.testing.assert_allclose(lowest(sp.diags(d), 3).energies, np.sort(d)[:3])
