"""sharekan_core/studio/jobs.py: one heavy job at a time, results shared by content, and who ran beside whom."""
from __future__ import annotations

import threading
import time

from sharekan_core.studio.jobs import Activity, HeavyJobs, SharedResults


def test_a_second_heavy_job_is_queued_until_the_first_ends_and_a_nested_slot_does_not_deadlock():
    jobs, order, queued = HeavyJobs(), [], []
    first_in = threading.Event()

    def first():
        with jobs.slot():
            with jobs.slot():  # the same thread again (a compression that then measures): no deadlock
                first_in.set()
                time.sleep(0.2)
                order.append("first")

    def second():
        first_in.wait()
        with jobs.slot(on_queued=queued.append):
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second"]
    assert queued == [1]  # one job ahead of it
    assert jobs.waiting == 0


def test_shared_results_compute_once_for_sessions_asking_at_the_same_time():
    jobs, results, calls = HeavyJobs(), SharedResults(), []

    def compute():
        calls.append(1)
        time.sleep(0.1)
        return object()

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(results.get_or_run(("model", "K=16"), compute, jobs)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1
    assert len({id(value) for value, _ in answers}) == 1  # every session holds the same result
    assert sorted(cached for _, cached in answers) == [False, True, True, True]


def test_shared_results_drop_the_least_recently_used_beyond_their_size():
    results = SharedResults(max_entries=2)
    results.put("a", 1), results.put("b", 2)
    assert results.get("a") == 1  # a is now the most recent
    results.put("c", 3)
    assert results.get("b") is None and results.get("a") == 1 and results.get("c") == 3


def test_a_watch_notes_another_sessions_page_run_and_not_its_own():
    activity = Activity()
    with activity.watch("me") as alone:
        with activity.running("me"):
            pass
    assert not alone.others_ran
    with activity.watch("me") as beside:
        with activity.running("you"):
            pass
    assert beside.others_ran
    with activity.running("you"):  # already running when the watch opens
        with activity.watch("me") as during:
            pass
    assert during.others_ran
