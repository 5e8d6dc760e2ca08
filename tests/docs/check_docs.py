"""The documentation and the program agree: `--help`, `--config-test --all`, rdns-milter.conf(5)
and the sample config name the same options; the sample's defaults are the real defaults and it
passes `--config-test` as shipped and fully uncommented; both man pages are lint-clean under
mandoc and groff.

Usage: check_docs.py  (RDNS_MILTER and RDNS_SOURCE from the environment, as meson sets them)
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import unittest

SOURCE = os.environ.get("RDNS_SOURCE") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MILTER = os.environ.get("RDNS_MILTER") or os.path.join(SOURCE, "build", "src", "rdns-milter")
CONF5 = os.path.join(SOURCE, "man", "rdns-milter.conf.5")
MAN8 = os.path.join(SOURCE, "man", "rdns-milter.8")
SAMPLE = os.path.join(SOURCE, "contrib", "rdns-milter.conf")

# --help's first group: options that only make sense on the command line.
COMMAND_LINE_ONLY = {"help", "version", "config", "config-test", "all", "check", "helo",
                     "mail-from", "json", "trace"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MILTER, *args], capture_output=True, text=True, timeout=30,
                          check=False)


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def help_options() -> set[str]:
    out = run("--help")
    assert out.returncode == 0, out.stderr
    return set(re.findall(r"^  (?:-\w \[ )?--([a-z0-9-]+)", out.stdout, re.MULTILINE))


def config_test_all() -> dict[str, str]:
    out = run("--config-test", "--all")
    assert out.returncode == 0, out.stderr
    settings = {}
    for line in out.stdout.splitlines():
        name, sep, value = line.partition(" =")
        assert sep, f"not a setting line: {line!r}"
        settings[name] = value.strip()
    return settings


def conf5_options() -> set[str]:
    # Each option is a tagged paragraph: .TP then .BI "name = " VALUE (hyphens escaped).
    names = re.findall(r'^\.TP\n\.BI? "([a-z0-9\\-]+) = ', read(CONF5), re.MULTILINE)
    return {name.replace("\\-", "-") for name in names}


def sample_defaults() -> dict[str, str]:
    """The sample's `# name = default` lines (not its `# example: ...` lines)."""
    found = {}
    for match in re.finditer(r"^# ([a-z0-9-]+) =(.*)$", read(SAMPLE), re.MULTILINE):
        assert match.group(1) not in found, f"{match.group(1)} listed twice in the sample"
        found[match.group(1)] = match.group(2).strip()
    return found


class OptionSetTest(unittest.TestCase):
    def test_help_config_test_conf5_and_sample_name_the_same_options(self):
        settings = set(config_test_all())
        self.assertGreater(len(settings), 40)  # the parse above really found the settings
        self.assertEqual(help_options() - COMMAND_LINE_ONLY, settings, "--help vs --config-test")
        self.assertEqual(conf5_options(), settings, "rdns-milter.conf.5 vs --config-test --all")
        self.assertEqual(set(sample_defaults()), settings, "the sample config vs --config-test")

    def test_the_sample_gives_each_option_its_real_default(self):
        defaults = config_test_all()
        for name, value in sample_defaults().items():
            self.assertEqual(value, defaults[name], f"sample config: {name}")


class SampleConfigTest(unittest.TestCase):
    def test_it_passes_config_test_as_shipped(self):
        out = run("--config-test", "--config", SAMPLE)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "", "the shipped sample changes no default")
        self.assertIn(f"configuration {SAMPLE} is valid", out.stderr)

    def test_uncommented_it_still_passes_and_changes_nothing(self):
        lines = [f"{name} = {value}\n" for name, value in sample_defaults().items()]
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.writelines(lines)
        self.addCleanup(os.unlink, f.name)
        out = run("--config-test", "--config", f.name)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "", "a default in the sample is not the real default")

    def test_a_broken_copy_is_refused_with_its_line(self):
        # The check above is only worth something if --config-test can fail on this file.
        text = read(SAMPLE).replace("# query-timeout =", "query-timeout = -1 #", 1)
        line = text[:text.index("query-timeout = -1")].count("\n") + 1
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        out = run("--config-test", "--config", f.name)
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"{f.name}:{line}: option 'query-timeout'", out.stderr)


class ManLintTest(unittest.TestCase):
    def test_mandoc_lint_is_clean(self):
        for page in (CONF5, MAN8):
            out = subprocess.run(["mandoc", "-Tlint", "-Wwarning", page], capture_output=True,
                                 text=True, check=False)
            self.assertEqual((out.returncode, out.stdout + out.stderr), (0, ""), page)

    def test_groff_warnings_are_clean(self):
        for page in (CONF5, MAN8):
            out = subprocess.run(["groff", "-ww", "-z", "-man", page], capture_output=True,
                                 text=True, check=False)
            self.assertEqual((out.returncode, out.stderr), (0, ""), page)


if __name__ == "__main__":
    unittest.main(verbosity=2)
