"""The README's examples run as written: every ```sh block of README.md, in order, on one scratch
store, as sqlite-utils tests its documentation.

How a block is read: continuation lines (ending in `\\`) are joined and comments stripped. A
`pigment ...` line runs in-process (the `Cli` of tests/conftest.py) with the fixed clock; a few
shell builtins are handled here (`mkdir -p`, `cd`, `export`, `echo`, `VAR=value`,
`VAR=$(pigment ...)`, `$VAR`, `~`, `A && B`, `> FILE`); anything else fails, naming the line.
HOME, the working directory (with a copy of examples/) and the store are in tmp_path, and paths
under /mnt, /srv, /var and /tmp land in tmp_path too (a folder directly under /mnt is taken as a
mounted disk, so it exists). `$PIGMENT_DB` is `~/clinic/pigment.db`, which the README's own
`pigment init` creates.

Example ids: the README writes S-7K3Q9, R-4MX2P, H-4RT9Q, `pigment-backup-...db` and item or
disclosure numbers for ids the store makes up. An example id is bound to the real one by a
comment saying what the command prints (`# prints her id: S-7K3Q9`, on the line or on a comment
line just after it; a number: `# prints the new item id, e.g. 42`), otherwise at its first use, to
the id the latest creating command printed first (`hold add` prints H-...). Bindings hold until a
"fresh store" marker. A `prints` comment is checked too: its dates must be in the output, "and
nothing else" means exactly that, "prints nothing" means nothing.

Exit codes: 0, unless the line's comment names others: a bare `# exit 3` means exactly 3; `exit 1
if ...` (a condition, or "exit 0 if intact, 1 naming ...") allows 0 and the codes named. The left
side of `&&` or `||` is a condition: 0 or 1.

Markers: HTML comments on the lines just above a block (invisible on GitHub):
  <!-- readme-test: skip (why) -->                     the block is not run (a reason is required)
  <!-- readme-test: skip-lines TEXT|TEXT (why) -->     its lines containing a TEXT are not run
  <!-- readme-test: today 2026-11-25 -->                 the clock's day for this block (10:30 UTC)
  <!-- readme-test: fresh store -->                      a new store (pigment init) from here on
A block the lead adds later is picked up automatically."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXED_NOW

from pigment_cli import clock

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
MAX_SKIPPED_BLOCKS = 6  # keep skips few: a skipped block is an example nobody checks
REMAPPED = ("/mnt/", "/srv/", "/var/", "/tmp/")
# Example ids as the README writes them, with the key that binds them to a real id: ids by their
# letter, backups by their suffix.
EXAMPLE_IDS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\b([SRHBPD])-[0-9A-Z]{5}\b"), lambda m: m.group(1)),
    (re.compile(r"pigment-backup-\d{8}T\d{6}(\.db(?:\.age)?)"), lambda m: "backup" + m.group(1)),
]
EXAMPLE_NUMBER = re.compile(r"\be\.g\. (\d+)\b")
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


# --- reading the README -------------------------------------------------------------------------


@dataclass
class Command:
    line: int  # where it starts in README.md
    text: str  # continuation lines joined, comment stripped
    comment: str = ""  # the comment on its (last) line
    notes: list[str] = field(default_factory=list)  # comment lines just after it


@dataclass
class Block:
    line: int  # the line of the opening fence
    heading: str
    markers: list[str]
    commands: list[Command]

    def marker(self, name: str) -> str | None:
        """The rest of the first marker starting with `name`, or None."""
        for marker in self.markers:
            if marker == name or marker.startswith(name + " "):
                return marker[len(name):].strip()
        return None

    def where(self) -> str:
        return f"the block at README.md line {self.line} (section {self.heading!r})"


def split_comment(line: str) -> tuple[str, str]:
    """A shell line's code and its comment (a `#` outside quotes, at the start of a word)."""
    single = double = False
    previous = " "
    for index, char in enumerate(line):
        if char == "'" and not double:
            single = not single
        elif char == '"' and not single and previous != "\\":
            double = not double
        elif char == "#" and not single and not double and previous.isspace():
            return line[:index].rstrip(), line[index + 1:].strip()
        previous = char
    return line.rstrip(), ""


def parse_commands(lines: list[str], first_line: int) -> list[Command]:
    commands: list[Command] = []
    pending: list[str] = []
    start = first_line
    for offset, raw in enumerate(lines):
        number = first_line + offset
        code, comment = split_comment(raw)
        if not pending and not code.strip():
            if comment and commands:
                commands[-1].notes.append(comment)
            continue
        if not pending:
            start = number
        if code.endswith("\\") and not comment:
            pending.append(code[:-1].strip())
            continue
        pending.append(code.strip())
        commands.append(Command(start, " ".join(p for p in pending if p), comment))
        pending = []
    if pending:
        raise AssertionError(f"README.md line {start}: a continuation line ends the block")
    return commands


def read_blocks(text: str) -> list[Block]:
    """Every ```sh block, with the markers above it and its section heading."""
    lines = text.splitlines()
    blocks: list[Block] = []
    heading = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip() == "```sh":
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            markers: list[str] = []
            above = index - 1
            while above >= 0 and (not lines[above].strip() or MARKER.match(lines[above].strip())):
                found = MARKER.match(lines[above].strip())
                if found:
                    markers.insert(0, found.group(1))
                above -= 1
            blocks.append(Block(index + 1, heading, markers,
                                parse_commands(lines[index + 1:end], index + 2)))
            index = end
        index += 1
    return blocks


def allowed_exits(comment: str) -> set[int]:
    """The exit codes a line's comment allows (see the module's docstring)."""
    found = re.search(r"\bexit (\d+)(.*)", comment)
    if not found:
        return {0}
    codes = {int(found.group(1))}
    rest = found.group(2)
    codes |= {int(n) for n in re.findall(r",\s*(\d+)\s+(?:if|when|with|naming)\b", rest)}
    if re.match(r"\s+(if|when|with|naming|unless)\b", rest):
        codes.add(0)
    return codes


# --- running it ---------------------------------------------------------------------------------


class Unsupported(Exception):
    pass


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str = ""
    argv: list[str] = field(default_factory=list)


class Runner:
    def __init__(self, cli: Any, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cli, self.root, self.monkeypatch = cli, root, monkeypatch
        self.home = root / "home"
        self.work = root / "work"
        self.disks = root / "disks"  # where /mnt, /srv, /var and /tmp land
        for folder in (self.home, self.work, self.disks):
            folder.mkdir()
        shutil.copytree(ROOT / "examples", self.work / "examples")
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.setenv("PIGMENT_DB", str(self.home / "clinic" / "pigment.db"))
        monkeypatch.chdir(self.work)
        self.vars: dict[str, str] = {}
        self.bound: dict[str, str] = {}  # example id -> the real one
        self.latest: dict[str, str] = {}  # binding key -> the id a creating command printed last
        self.fresh = 0

    # the clock and the store
    def today(self, day: date | None) -> None:
        when = FIXED_NOW if day is None else datetime(day.year, day.month, day.day, 10, 30,
                                                  tzinfo=UTC)
        self.monkeypatch.setattr(clock, "system_now", lambda: when)

    def fresh_store(self) -> None:
        self.fresh += 1
        path = self.home / f"fresh-{self.fresh}" / "pigment.db"
        result = self.cli("init", "--db", str(path))
        assert result.exit_code == 0, result.stderr
        self.monkeypatch.setenv("PIGMENT_DB", str(path))
        self.bound.clear()
        self.latest.clear()

    # words
    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name == "PWD":
                return str(Path.cwd())
            if name in self.vars:
                return self.vars[name]
            if name in os.environ:
                return os.environ[name]
            raise Unsupported(f"${name} is not set")

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)

    def word(self, token: str) -> str:
        if token == "~" or token.startswith("~/"):
            token = str(self.home) + token[1:]
        for pattern, key_of in EXAMPLE_IDS:
            token = pattern.sub(self.replacer(key_of), token)
        if token in self.bound and token.isdigit():
            token = self.bound[token]
        if token.startswith(REMAPPED) and not token.startswith(str(self.root)):
            mapped = self.disks / token.lstrip("/")
            if token.startswith("/mnt/"):
                (self.disks / "mnt" / token.split("/")[2]).mkdir(parents=True, exist_ok=True)
            token = str(mapped) + ("/" if token.endswith("/") else "")
        return token

    def replacer(self, key_of: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
        return lambda match: self.real(match.group(0), key_of(match))

    def real(self, example: str, key: str) -> str:
        if example not in self.bound and key in self.latest:
            self.bound[example] = self.latest[key]
        return self.bound.get(example, example)

    # binding and checking what a command printed
    def saw(self, stdout: str) -> None:
        """A command printed this: its first word, if an id, is what it created."""
        words = stdout.split()
        if not words:
            return
        for pattern, key_of in EXAMPLE_IDS:
            found = pattern.search(words[0])
            if found:
                self.latest[key_of(found)] = found.group(0)

    def prints(self, comment: str, stdout: str) -> list[str]:
        """Bind the example ids a `prints` comment names; return what it says that is not so."""
        if "prints" not in comment:
            return []
        problems = []
        for pattern, key_of in EXAMPLE_IDS:
            for example in pattern.finditer(comment):
                printed = [m for m in pattern.finditer(stdout) if key_of(m) == key_of(example)]
                if not printed:
                    problems.append(f"it should print an id like {example.group(0)}")
                    continue
                self.bound[example.group(0)] = printed[0].group(0)
        for number in EXAMPLE_NUMBER.findall(comment):
            digits = re.findall(r"\b\d+\b", stdout)
            if not digits:
                problems.append(f"it should print a number like {number}")
                continue
            self.bound[number] = digits[0]
        for day in ISO_DAY.findall(comment):
            if day not in stdout:
                problems.append(f"it should print {day}")
        if "nothing else" in comment and stdout.strip() not in ISO_DAY.findall(comment):
            problems.append("it should print that and nothing else")
        if "prints nothing" in comment and stdout:
            problems.append("it should print nothing")
        return problems

    # commands
    def run(self, command: Command) -> tuple[Outcome, set[int]]:
        """Run one README line; return the outcome and the exit codes it may have."""
        text = self.expand(command.text)
        capture = re.fullmatch(r"(\w+)=\$\((.*)\)", text)
        if capture:
            outcome = self.simple(shlex.split(capture.group(2)))
            self.vars[capture.group(1)] = outcome.stdout.strip()
            return outcome, {0}
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        allowed = allowed_exits(command.comment)
        segments: list[tuple[str, list[str]]] = [("", [])]
        for token in tokens:
            if token in ("&&", "||", ";"):
                segments.append((token, []))
            elif token in ("|", "&", "(", ")", "<"):
                raise Unsupported(f"shell syntax {token!r}")
            else:
                segments[-1][1].append(token)
        outcome = Outcome(0, "")
        for index, (joiner, words) in enumerate(segments):
            if (joiner == "&&" and outcome.code) or (joiner == "||" and not outcome.code):
                break
            outcome = self.redirected(words)
            last = index == len(segments) - 1
            if not last and outcome.code not in (0, 1):
                return outcome, {0, 1}
        return outcome, allowed if len(segments) == 1 else allowed | {0, 1}

    def redirected(self, words: list[str]) -> Outcome:
        target, append = None, False
        if len(words) >= 2 and words[-2] in (">", ">>"):
            target, append = words[-1], words[-2] == ">>"
            words = words[:-2]
        outcome = self.simple(words)
        if target is not None:
            path = Path(self.word(target))
            with path.open("a" if append else "w") as file:
                file.write(outcome.stdout)
            outcome.stdout = ""
        return outcome

    def simple(self, words: list[str]) -> Outcome:
        if not words:
            raise Unsupported("an empty command")
        words = [self.word(w) for w in words]
        name, args = words[0], words[1:]
        if name == "pigment" or name.endswith("/pigment"):
            result = self.cli(*args)
            outcome = Outcome(result.exit_code, result.stdout, result.stderr, args)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise result.exception
            self.saw(outcome.stdout)
            return outcome
        if name == "mkdir" and args[:1] == ["-p"]:
            for folder in args[1:]:
                Path(folder).mkdir(parents=True, exist_ok=True)
            return Outcome(0, "", argv=words)
        if name == "cd" and len(args) == 1:
            self.monkeypatch.chdir(args[0])
            return Outcome(0, "", argv=words)
        if name == "export" or re.fullmatch(r"\w+=.*", name):
            for pair in args if name == "export" else words:
                key, _, value = pair.partition("=")
                if name == "export":
                    self.monkeypatch.setenv(key, value)
                else:
                    self.vars[key] = value
            return Outcome(0, "", argv=words)
        if name == "echo":
            return Outcome(0, " ".join(args) + "\n", argv=words)
        raise Unsupported(f"{name!r} is not pigment or a builtin this test knows")


def _show(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"


def test_every_readme_example_runs_as_written(cli: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    runner = Runner(cli, tmp_path, monkeypatch)
    blocks = read_blocks(README.read_text())
    ran = 0
    for block in blocks:
        if block.marker("skip") is not None:
            continue
        if block.marker("fresh store") is not None:
            runner.fresh_store()
        day = block.marker("today")
        runner.today(date.fromisoformat(day) if day else None)
        skip_lines = block.marker("skip-lines")
        left_out = [t for t in re.sub(r"\s*\(.*\)$", "", skip_lines or "").split("|") if t]
        for command in block.commands:
            if any(text in command.text for text in left_out):
                continue
            try:
                outcome, allowed = runner.run(command)
            except Unsupported as exc:
                unsupported = str(exc)
            else:
                unsupported = ""
            if unsupported:
                pytest.fail(f"README.md line {command.line}, in {block.where()}: "
                            f"`{command.text}`: {unsupported}; give the block a readme-test "
                            "marker (see tests/test_readme.py) or teach the test the builtin")
            ran += 1
            problems = [] if outcome.code not in allowed else [
                *runner.prints(command.comment, outcome.stdout),
                *(p for note in command.notes for p in runner.prints(note, outcome.stdout))]
            if outcome.code not in allowed or problems:
                expected = " or ".join(str(c) for c in sorted(allowed))
                pytest.fail(
                    f"README.md line {command.line}, in {block.where()}:\n  {command.text}\n"
                    f"ran as: {' '.join(outcome.argv)}\n"
                    f"exit {outcome.code} (expected {expected}){'; ' if problems else ''}"
                    f"{'; '.join(problems)}\n--- stdout\n{_show(outcome.stdout)}\n"
                    f"--- stderr\n{_show(outcome.stderr)}")
    assert ran >= 100  # the README is the manual: most of it runs


# --- the reader itself --------------------------------------------------------------------------

SAMPLE = """# Title

## Section one

<!-- readme-test: today 2026-01-05 -->

```sh
pigment subject add --name "A # not a comment" \\
    --email a@example.org   # prints the id, e.g. S-7K3Q9
# prints the new id alone, e.g. S-7K3Q9
pigment consent check S-7K3Q9 newsletter   # exit 0 if granted now, 1 if not
```

<!-- readme-test: skip (needs age) -->
```sh
age-keygen -o backup.key
```

```
pigment not-a-shell-block
```
"""


def test_blocks_are_read_with_markers_continuations_and_comments() -> None:
    first, second = read_blocks(SAMPLE)
    assert (first.line, first.heading, first.markers) == (7, "Section one", ["today 2026-01-05"])
    assert first.marker("today") == "2026-01-05" and first.marker("skip") is None
    add, check = first.commands
    assert add.line == 8
    assert add.text == 'pigment subject add --name "A # not a comment" --email a@example.org'
    assert add.comment == "prints the id, e.g. S-7K3Q9"
    assert add.notes == ["prints the new id alone, e.g. S-7K3Q9"]
    assert check.line == 11 and check.text == "pigment consent check S-7K3Q9 newsletter"
    assert second.marker("skip") == "(needs age)"
    assert [c.text for c in second.commands] == ["age-keygen -o backup.key"]


@pytest.mark.parametrize(("comment", "codes"), [
    ("", {0}),
    ("every consent purpose", {0}),
    ("exit 3", {3}),
    ("exit 3 (refused: no written consent)", {3}),
    ("exit 0 if granted now, 1 if not", {0, 1}),
    ("exit 1 if any open request is past its due day (for cron)", {0, 1}),
    ("validate a file; exit 1 naming each bad key and line", {0, 1}),
    ("exit 0 when healthy, 1 with a list of findings", {0, 1}),
])
def test_exit_codes_come_from_the_comment(comment: str, codes: set[int]) -> None:
    assert allowed_exits(comment) == codes


def test_every_skipped_block_says_why_and_skips_stay_few() -> None:
    blocks = read_blocks(README.read_text())
    skipped = [b for b in blocks if b.marker("skip") is not None]
    for block in skipped:
        assert re.fullmatch(r"\(.+\)", block.marker("skip") or ""), block.where()
    for block in blocks:
        lines = block.marker("skip-lines")
        if lines is not None:
            assert re.fullmatch(r"\S.*\(.+\)", lines), block.where()
    assert len(skipped) <= MAX_SKIPPED_BLOCKS, [b.where() for b in skipped]
    assert len(blocks) - len(skipped) >= 20


def test_example_ids_are_bound_to_the_ids_the_store_printed(
        cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = Runner(cli, tmp_path, monkeypatch)
    runner.today(None)
    text = """```sh
pigment init
pigment subject add --name "Example Person"   # prints its id, e.g. S-7K3Q9
pigment hold add S-7K3Q9 --reason "legal claim"   # prints the hold id
pigment hold release H-4RT9Q
pigment sar deadline 2024-11-25   # prints 2024-12-27 and nothing else
pigment sar deadline 2024-11-25   # prints 2024-12-28
pigment subject show S-2PX4M
pigment sar show R-4MX2P
pigment sar show R-4MX2P   # exit 2
```"""
    (init, add, hold, release, deadline, wrong, another, unknown,
     refused) = read_blocks(text)[0].commands
    for command in (init, add, hold, release):
        outcome, allowed = runner.run(command)
        assert outcome.code in allowed and not runner.prints(command.comment, outcome.stdout)
    subject, hold_id = runner.bound["S-7K3Q9"], runner.bound["H-4RT9Q"]
    assert subject.startswith("S-") and subject != "S-7K3Q9"
    assert release.text.endswith("H-4RT9Q") and hold_id.startswith("H-")
    outcome, _ = runner.run(deadline)
    assert runner.prints(deadline.comment, outcome.stdout) == []
    outcome, _ = runner.run(wrong)
    assert runner.prints(wrong.comment, outcome.stdout) == ["it should print 2024-12-28"]
    outcome, _ = runner.run(another)  # first used with no prints comment: the latest subject
    assert outcome.code == 0 and runner.bound["S-2PX4M"] == subject
    outcome, allowed = runner.run(unknown)  # no request was made: no id to bind it to
    assert "R-4MX2P" not in runner.bound
    assert (outcome.code, allowed) == (2, {0})
    outcome, allowed = runner.run(refused)
    assert outcome.code in allowed == {2}
