#!/usr/bin/env python3
"""The connection holder on Windows (under Wine): `coder-runtime.exe exec` through the named pipe,
with the Coder CLI stand-in (coder.exe beside go_sshd.exe) counting its calls. Two execs started
together find no holder and start one between them; the next execs reuse its connection; exit
codes come through; `connections list` and `stop` reach it; after stop nothing is shared.
Prints one line per step, each "ok: ..." or "FAILED: ..."; exits 1 if any failed. Every run is
bounded. Usage: holder.py EXE HELPERS_FOLDER (the latter as Windows sees it)"""
import json
import os
import subprocess
import sys
import tempfile

exe, helpers = sys.argv[1], sys.argv[2]
pipe = r"\\.\pipe\coder-runtime-wine-test-%d" % os.getpid()
calls = tempfile.NamedTemporaryFile(prefix="coder-calls-", delete=False)
calls.close()
os.environ["CODER_STANDIN_CALLS"] = "Z:" + calls.name.replace("/", "\\")
failed = False


def check(what, condition, evidence):
    global failed
    print(("ok: " if condition else "FAILED: ") + what + ("" if condition else " -- " + evidence))
    failed = failed or not condition


# Output goes to files, not pipes: a process Wine starts keeps its parent's Unix descriptors 0-2
# whatever handles it was given, so the holder would hold a pipe open after its client has ended.
def start(*args):
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    process = subprocess.Popen(["wine", exe, *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    return process, out, err


def finish(started):
    process, out, err = started
    try:
        process.wait(timeout=60)
        status, killed = process.returncode, ""
    except subprocess.TimeoutExpired:
        process.kill()
        status, killed = None, " (killed after 60 s)"
    out.seek(0)
    err.seek(0)
    return status, out.read().decode(errors="replace"), err.read().decode(errors="replace") + killed


def exec_args(command):
    return ["exec", "--coder", helpers + "\\coder.exe", "-o", "ControlPath=" + pipe, "--shell", "ws", "--", command]


def ssh_calls():
    with open(calls.name) as f:
        return sum(1 for line in f if line.startswith("ssh "))


together = [start(*exec_args("echo first %d" % i)) for i in range(2)]
for i, process in enumerate(together):
    status, out, err = finish(process)
    check("cold exec %d of 2 started together" % i, status == 0 and out.strip() == "first %d" % i, f"{status} {out!r} {err!r}")
check("one `coder ssh` for both", ssh_calls() == 1, open(calls.name).read())

status, out, err = finish(start(*exec_args("echo warm & exit 3")))
check("a warm exec relays output and exit code 3", status == 3 and out.strip() == "warm", f"{status} {out!r} {err!r}")
check("still one `coder ssh`", ssh_calls() == 1, open(calls.name).read())

status, out, err = finish(start("connections", "-o", "ControlPath=" + pipe, "list", "--json"))
listed = json.loads(out) if status == 0 and out.strip() else {}
check("connections list names the workspace", [c.get("destination") for c in listed.get("connections", [])] == ["ws.mux--coder"],
      f"{status} {out!r} {err!r}")

status, out, err = finish(start("connections", "-o", "ControlPath=" + pipe, "stop", "--json"))
check("connections stop ends it", status == 0 and json.loads(out or "{}").get("stopped") == 1, f"{status} {out!r} {err!r}")

status, out, err = finish(start(*exec_args("echo again")))
check("the next exec starts a new holder", status == 0 and out.strip() == "again" and ssh_calls() == 2, f"{status} {out!r} {err!r}")
finish(start("connections", "-o", "ControlPath=" + pipe, "stop"))
os.unlink(calls.name)
sys.exit(1 if failed else 0)
