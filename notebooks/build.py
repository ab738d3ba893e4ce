"""Build the analyst notebooks in this folder: `python notebooks/build.py`.

The `.ipynb` files are generated from the cells below, never edited by hand, and committed
without outputs; `tests/notebooks` checks that they match what this script builds. To change a
notebook, edit its cells here and rebuild.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nbformat import NotebookNode

from seenby.harness.run.notebook import (
    code,
    markdown,
    notebook_from_cells,
    summary_analysis_cells,
    write_notebook,
)

NOTEBOOKS_DIR = Path(__file__).resolve().parent

TARGET_PARAMETERS = """
target_url = None  # e.g. "https://im.example.com"; None starts the bundled reference server
admin_key = None  # that deployment's admin key (the bundled server makes its own)
"""


def quickstart() -> NotebookNode:
    """A group message with read receipts, from sending to paging who has read it."""
    return notebook_from_cells(
        [
            markdown("""
# Read receipts in five minutes

A sender marks a group message as needing read receipts; members report that they read it; the
sender is told "2 read / 3 unread" the moment it happens, and can later pull the counts and page
through who has and has not read the message. This notebook does each step against a live
target, using the seenby harness, whose method names mirror the Tencent Cloud IM SDK.

By default it starts the bundled reference server inside this kernel. To drive another
deployment, set `target_url` and `admin_key` below (or pass them with `papermill -p`).
"""),
            code(TARGET_PARAMETERS, parameters=True),
            code("""
import queue

from seenby import harness
from seenby.harness import ReadFilter

target = harness.open_target(target_url, admin_key)
target.capabilities
"""),
            markdown("""
## 1. Users and a group

`target.users(...)` creates users with fresh, unique IDs (the name becomes the nickname), and
`target.group(...)` a group, so the notebook never collides with data already on the target.
Alice owns a `Work` group with five other members.
"""),
            code("""
alice, bob, carol, dave, erin, frank = target.users(
    "alice", "bob", "carol", "dave", "erin", "frank"
)
team = target.group("Work", owner=alice, members=[bob, carol, dave, erin, frank], name="lunch")
team
"""),
            markdown("""
## 2. Alice listens for receipts

`on_recv_message_read_receipts` is the SDK's listener: the callback gets the receipts of every
`onRecvMessageReadReceipts` push. Here it drops them in a queue so the next cells can print each
push as it arrives.
"""),
            code("""
pushed = queue.Queue()
alice.on_recv_message_read_receipts(pushed.put)
"""),
            markdown("""
## 3. Alice sends a message that needs read receipts
"""),
            code("""
lunch = alice.send_text("Lunch at noon?", group=team, need_read_receipt=True)
lunch
"""),
            markdown("""
## 4. Bob and Carol read it; Alice sees the counts live

Each member who reads the message sends a receipt. Alice is pushed the message's new counts
every time; nobody else is told.
"""),
            code("""
for name, reader in [("Bob", bob), ("Carol", carol)]:
    reader.send_message_read_receipts([lunch])
    for receipt in pushed.get(timeout=10):
        counts = f"{receipt.read_count} read / {receipt.unread_count} unread"
        print(f"{name} reads it → Alice is pushed: {counts}")
"""),
            markdown("""
## 5. Later: Alice loads the conversation and pulls the receipts

Coming back to the chat, Alice loads the history (messages carry `needReadReceipt`) and pulls
the receipts of her messages in one call.
"""),
            code("""
history = alice.get_history_message_list(group=team, count=20)
history
"""),
            code("""
alice.get_message_read_receipts([m for m in history if m.is_self and m.need_read_receipt])
"""),
            markdown("""
## 6. Who has not read it yet? Page through the members

`getGroupMessageReadMemberList` pages through the members who have read (`ReadFilter.READ`) or
not read (`ReadFilter.UNREAD`) the message. The first call passes `next_seq=0`; each later call
passes the `next_seq` of the previous page, until `is_finished`. Two members per page here, to
show the paging.
"""),
            code("""
next_seq = 0
for page_number in range(1, 11):  # a cap, in case a target never says it has finished
    page = alice.get_group_message_read_member_list(
        lunch, ReadFilter.UNREAD, next_seq=next_seq, count=2
    )
    members = [member.user_id for member in page.members]
    print(f"unread page {page_number}: {members}  is_finished={page.is_finished}")
    if page.is_finished:
        break
    next_seq = page.next_seq
"""),
            markdown("""
`walk_group_message_read_members` follows the pages for you:
"""),
            code("""
alice.walk_group_message_read_members(lunch, ReadFilter.READ)
"""),
            code("""
target.close()
"""),
        ],
        name="quickstart",
    )


def conformance_run() -> NotebookNode:
    """Run the conformance suite as a subprocess and chart its summary."""
    return notebook_from_cells(
        [
            markdown("""
# Conformance run

Runs the seenby conformance suite against a target (`seenby run`, in a separate process, as CI
does), then loads its `conformance-summary.json` to show the verdicts by spec area and every
failure with its evidence. The same run also writes `report.html` in `report_dir`.
"""),
            code(
                TARGET_PARAMETERS
                + """
selection = []  # scenario IDs ("RR-R-004") and tags ("area-L", "spec-R-4"); [] runs everything
report_dir = "seenby-report"
workers = 1  # parallel workers (pytest-xdist); 1 runs the scenarios one after another
""",
                parameters=True,
            ),
            markdown("""
## Run the suite

One line per scenario appears as it finishes. The exit code is 0 when the target is
conformant, 1 when it is not (or the run is incomplete), 2 for a usage error.
"""),
            code("""
import os
import subprocess
import sys
from pathlib import Path

command = [sys.executable, "-m", "seenby.harness.cli", "run", "--report-dir", str(report_dir)]
if target_url:
    command += ["--target", target_url]
if admin_key:
    command += ["--admin-key", admin_key]
for tag in selection:
    command += ["--tag", tag]  # a scenario's ID is one of its tags
if workers > 1:
    command += ["-n", str(workers)]

print("$ seenby", *("<admin key>" if arg == admin_key else arg for arg in command[3:]))
unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}  # progress lines as they happen
with subprocess.Popen(
    command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=unbuffered
) as run:
    for line in run.stdout:
        print(line, end="")
if run.returncode not in (0, 1):
    raise RuntimeError(f"seenby run stopped with exit code {run.returncode}")
summary_path = Path(report_dir) / "conformance-summary.json"
"""),
            *summary_analysis_cells(),
            markdown("""
The same results, as one self-contained page to publish:
"""),
            code("""
print((Path(report_dir) / "report.html").resolve())
"""),
        ],
        name="conformance-run",
    )


def group_read_dynamics() -> NotebookNode:
    """Hundreds of members read one message; chart the counts the sender sees over time."""
    return notebook_from_cells(
        [
            markdown("""
# How a group reads a message

A group of a few hundred members gets one message that needs read receipts. Each member reads
it after a random delay (some never do), as a thread of its own. The sender records every
`onRecvMessageReadReceipts` push with its arrival time and, in parallel, pulls the counts at a
fixed interval. We then plot:

- the **read curve**: `readCount` over time, as pushed and as pulled, side by side;
- the **push latency**: from a reader's `sendMessageReadReceipts` call returning to the
  sender's push arriving.

Delays are compressed so that the whole run takes about `read_window_s` seconds; the random
generator is seeded, so a run can be repeated.
"""),
            code(
                TARGET_PARAMETERS
                + """
members = 300  # members besides the sender: every one is a recipient of the message
never_read = 0.15  # share of members who never read it
read_window_s = 8.0  # the time scale: every read happens within this many seconds of sending
pull_every_s = 0.25  # how often the sender pulls the counts
reader_threads = 32  # readers whose receipts may be in flight at the same time
seed = 7
""",
                parameters=True,
            ),
            code("""
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from seenby import harness

%matplotlib inline

target = harness.open_target(target_url, admin_key)
target.capabilities
"""),
            markdown("""
## The group

Receipts are only offered for groups of at most `groupReceiptMaxMembers` members (200 by
default), the sender included. When the group is larger, we raise the setting through the admin
API (the target must offer `adminSettings`) and put it back at the end.
"""),
            code("""
settings_before = target.admin.get_settings()
group_size = members + 1
if settings_before.group_receipt_max_members < group_size:
    if not target.capabilities.has("adminSettings"):
        raise RuntimeError(
            f"a group of {group_size} needs groupReceiptMaxMembers ≥ {group_size}, "
            "and this target does not offer admin/setSettings"
        )
    target.admin.set_settings(group_receipt_max_members=group_size)

sender, *readers = target.users("sender", *(f"member{i:03d}" for i in range(members)))
group = target.group("Work", owner=sender, members=readers, name="dynamics")
group
"""),
            markdown("""
## Who reads, and when

Each member first decides whether it will ever read the message (`never_read` of them won't),
then draws its delay: exponential with a mean of a quarter of the window (most read early, a
few late), capped at the window.
"""),
            code("""
rng = random.Random(seed)
schedule = []  # (delay in seconds after sending, reader)
for reader in readers:
    if rng.random() < never_read:
        continue
    schedule.append((min(rng.expovariate(4 / read_window_s), read_window_s), reader))
schedule.sort(key=lambda entry: entry[0])
print(f"{len(schedule)} of {members} members will read, the last after {schedule[-1][0]:.2f} s")
"""),
            markdown("""
## Run it

The sender's listener stamps every push as it arrives; a puller thread asks for the counts every
`pull_every_s` seconds. Readers run on a thread pool: each waits for its scheduled moment (that
wait *is* the simulation), sends its receipt, and notes when the call returned. Once every reader
is done, we wait (up to 10 s) for the push with the final count.
"""),
            code("""
pushes = []  # (arrival time, readCount, unreadCount)

def record_push(receipts):
    arrived = time.monotonic()
    pushes.extend((arrived, r.read_count, r.unread_count) for r in receipts)

stream = sender.on_recv_message_read_receipts(record_push)
message = sender.send_text("The quarterly numbers are in", group=group, need_read_receipt=True)
sent = time.monotonic()

returned = []  # when each reader's sendMessageReadReceipts call returned

def read_after(delay, reader):
    time.sleep(max(0.0, sent + delay - time.monotonic()))  # the simulated reading delay
    reader.send_message_read_receipts([message])
    returned.append(time.monotonic())

pulls = []  # (time, readCount)
stop_pulling = threading.Event()

def pull_periodically():
    while True:
        [receipt] = sender.get_message_read_receipts([message])
        pulls.append((time.monotonic(), receipt.read_count))
        if stop_pulling.wait(pull_every_s):
            return

puller = threading.Thread(target=pull_periodically, name="puller")
puller.start()
try:
    with ThreadPoolExecutor(max_workers=reader_threads, thread_name_prefix="reader") as pool:
        for done in [pool.submit(read_after, delay, reader) for delay, reader in schedule]:
            done.result()  # re-raises a reader's error here
    stream.wait_for(
        lambda event: any(r.read_count == len(schedule) for r in event.receipts),
        timeout=10,
        description=f"a push with readCount {len(schedule)}",
    )
finally:
    stop_pulling.set()
    puller.join()
print(f"{len(schedule)} receipts sent, {len(pushes)} pushes received, {len(pulls)} pulls")
"""),
            markdown("""
## The read curve

Left: the count as pushed to the sender, one step per push. Right: the count as the sender
pulled it every `pull_every_s` seconds. The grey line in both is when the readers' calls
returned: the pushed curve should hug it, the pulled one trails it by up to one interval.
"""),
            code("""
pushed = pd.DataFrame(pushes, columns=["arrived", "read_count", "unread_count"])
pushed["t"] = pushed["arrived"] - sent
pulled = pd.DataFrame(pulls, columns=["at", "read_count"])
pulled["t"] = pulled["at"] - sent
calls = np.sort(np.array(returned) - sent)

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharex=True, sharey=True)
for ax in (left, right):
    ax.step(calls, np.arange(1, len(calls) + 1), where="post", color="0.75", label="calls returned")
    ax.set(xlabel="seconds after sending", ylim=(0, members * 1.05))
    ax.axhline(members, color="0.85", linestyle=":", label=f"{members} recipients")
left.step(pushed["t"], pushed["read_count"], where="post", label="pushed readCount")
left.set(title="Pushed to the sender", ylabel="readCount")
right.step(pulled["t"], pulled["read_count"], where="post", marker=".", color="C1",
           label="pulled readCount")
right.set(title=f"Pulled every {pull_every_s} s")
for ax in (left, right):
    ax.legend(loc="lower right")
plt.show()
"""),
            markdown("""
## Push latency

A group push carries the counts, not the reader, so we pair the push whose `readCount` is *k*
with the *k*-th reader call to return. That is exact when calls do not overlap, and off by at
most the overlap when they do. A push may reach the sender a little before the reader sees its
own answer, so values just below zero are genuine.
"""),
            code("""
assert len(pushed) == len(returned), f"{len(returned)} receipts but {len(pushed)} pushes"
by_count = pushed.sort_values("read_count")
latency_ms = pd.Series((by_count["arrived"].to_numpy() - np.sort(returned)) * 1000,
                       name="push latency (ms)")

ax = latency_ms.plot.hist(bins=40, figsize=(8, 3.5), color="C2")
ax.set(xlabel="ms from the reader's call returning to the push arriving", ylabel="pushes",
       title=f"Push latency over {len(latency_ms)} receipts")
plt.show()
latency_ms.describe(percentiles=[0.5, 0.9, 0.99]).to_frame()
"""),
            markdown("""
## Checks

After N distinct readers the count is exactly N, however concurrently they read, and counts
never go backwards in the order the sender sees them [P-3]. `readCount + unreadCount` is the
number of recipients [Q-2]. The sender's push connection missed nothing: its event `seq` rose
by exactly one each time.
"""),
            code("""
[final] = sender.get_message_read_receipts([message])
checks = pd.DataFrame(
    {
        "expected": [len(schedule), len(schedule), members, True, 0],
        "observed": [
            int(pushed["read_count"].iloc[-1]),
            final.read_count,
            final.read_count + final.unread_count,
            bool(pushed["read_count"].is_monotonic_increasing),
            len(stream.seq_gaps),
        ],
    },
    index=[
        "last pushed readCount",
        "pulled readCount",
        "read + unread",
        "pushes never go back",
        "gaps in the push seq",
    ],
)
checks["ok"] = checks["expected"] == checks["observed"]
checks
"""),
            markdown("""
## Clean up

Put the receipt group-size limit back and stop the target (the bundled server stops with it).
"""),
            code("""
if settings_before.group_receipt_max_members < group_size:
    target.admin.set_settings(
        group_receipt_max_members=settings_before.group_receipt_max_members
    )
target.close()
"""),
        ],
        name="group-read-dynamics",
    )


def matrix_side_by_side() -> NotebookNode:
    """The same group read on the reference server and on Synapse: when each read reaches the
    sender."""
    return notebook_from_cells(
        [
            markdown("""
# The same group read, on seenby and on Matrix

One sender, a group of `members`, one message that needs read receipts; each member reads it
after a seeded random delay. The workload runs twice, unchanged: on the reference server
(driver `seenby`) and on a Synapse homeserver (driver `matrix`: the group is a room, the read
an `m.read` receipt, the push the sender's `/sync`). For every push the sender gets we note when
it arrived and the `readCount` it carried, then plot, per target, when each member's read
reached the sender.

Matrix counts differently: its receipts are "read up to here" markers, `/sync` may coalesce
several members' receipts into one batch (fewer pushes, larger steps), and every member is told
of every read (not only the sender). The plot shows what that looks like in time.

`target_url = None` starts the bundled reference server; `matrix_url = None` starts a
throw-away Synapse (installed on first use into its own virtual environment).
"""),
            code(
                TARGET_PARAMETERS
                + """
matrix_url = None  # a Matrix homeserver; None starts a throw-away Synapse
matrix_key = None  # its registration shared secret
members = 12  # members besides the sender
read_window_s = 3.0  # every member reads within this many seconds of the send
seed = 7
""",
                parameters=True,
            ),
            code("""
import random
import time
from concurrent.futures import ThreadPoolExecutor

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from seenby import harness

%matplotlib inline

targets = {
    "seenby (reference server)": harness.open_target(target_url, admin_key),
    "matrix (Synapse)": harness.open_target(matrix_url, matrix_key, driver="matrix"),
}
pd.DataFrame(
    {name: {"driver": t.driver_name, **t.capabilities.implementation} for name, t in targets.items()}
)
"""),
            markdown("""
## The workload

The same function runs on both targets: users and a group, the sender listening, the message,
then every member's receipt at its scheduled moment (one thread each). It returns the calls'
return times and the pushes as they reached the sender, both relative to the send.
"""),
            code("""
delays = sorted(random.Random(seed).uniform(0, read_window_s) for _ in range(members))


def group_read(target):
    sender, *readers = target.users("sender", *(f"member{i:02d}" for i in range(members)))
    group = target.group("Work", owner=sender, members=readers, name="side-by-side")
    pushes = []

    def record(receipts):
        arrived = time.monotonic()
        pushes.extend((arrived, r.read_count) for r in receipts if r.read_count is not None)

    stream = sender.on_recv_message_read_receipts(record)
    message = sender.send_text("Minutes of the meeting", group=group, need_read_receipt=True)
    sent = time.monotonic()

    def read_after(delay, reader):
        time.sleep(max(0.0, sent + delay - time.monotonic()))
        reader.send_message_read_receipts([message])
        return time.monotonic() - sent

    with ThreadPoolExecutor(max_workers=members) as pool:
        returned = sorted(pool.map(read_after, delays, readers))
    stream.wait_for(
        lambda event: any(r.read_count == members for r in event.receipts),
        timeout=15,
        description=f"a push with readCount {members}",
    )
    pushed = pd.DataFrame(pushes, columns=["arrived", "read_count"])
    pushed["t"] = pushed["arrived"] - sent
    return returned, pushed


runs = {name: group_read(target) for name, target in targets.items()}
pd.DataFrame({name: {"receipts sent": len(r), "pushes received": len(p)}
              for name, (r, p) in runs.items()})
"""),
            markdown("""
## When each read reached the sender

Member *k*'s read has reached the sender once a push says `readCount` ≥ *k*. The grey steps are
the readers' calls returning; each target's curve is the pushes. Where a curve jumps by more
than one, the target told the sender of several reads at once.
"""),
            code("""
fig, ax = plt.subplots(figsize=(9, 4))
calls = np.array(next(iter(runs.values()))[0])
ax.step(calls, np.arange(1, members + 1), where="post", color="0.75", label="calls returned")
for name, (_, pushed) in runs.items():
    ax.step(pushed["t"], pushed["read_count"].cummax(), where="post", label=name)
ax.set(xlabel="seconds after sending", ylabel="reads known to the sender",
       ylim=(0, members * 1.05), title=f"{members} members reading one message")
ax.legend(loc="lower right")
plt.show()
"""),
            markdown("""
## How late each read was known

For member *k*: the first push with `readCount` ≥ *k*, minus the moment member *k*'s call
returned. Medians and the 99th percentile per target.
"""),
            code("""
def lateness_ms(returned, pushed):
    known = [pushed.loc[pushed["read_count"] >= k, "t"].min() for k in range(1, members + 1)]
    return (np.array(known) - np.array(returned)) * 1000


lateness = pd.DataFrame({name: lateness_ms(*run) for name, run in runs.items()})
lateness.describe(percentiles=[0.5, 0.99]).loc[["count", "50%", "99%", "max"]]
"""),
            code("""
for target in targets.values():
    target.close()
"""),
        ],
        name="matrix-side-by-side",
    )


NOTEBOOKS: dict[str, Callable[[], NotebookNode]] = {
    "quickstart.ipynb": quickstart,
    "conformance_run.ipynb": conformance_run,
    "group_read_dynamics.ipynb": group_read_dynamics,
    "matrix_side_by_side.ipynb": matrix_side_by_side,
}


def main() -> None:
    """Write every notebook next to this script."""
    for filename, build in NOTEBOOKS.items():
        print(write_notebook(build(), NOTEBOOKS_DIR / filename))


if __name__ == "__main__":
    main()
