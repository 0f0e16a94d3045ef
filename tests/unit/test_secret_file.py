"""The deployment's secret, made once by whichever node starts first: nodes starting together
on one shared folder all get the same one and none fails. Containers number their processes
alike (every one has a pid 7), so the test's threads, which share one pid, stand for them."""

from __future__ import annotations

import threading

from audiodas.adapters.secret_file import load_or_create


def test_nodes_starting_together_agree_on_one_secret(tmp_path) -> None:
    for attempt in range(20):
        path = tmp_path / f"secret{attempt}"
        results: list[bytes] = []
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def node(start=start, path=path, results=results, errors=errors) -> None:  # type: ignore[no-untyped-def]
            start.wait()
            try:
                results.append(load_or_create(path))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=node) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(set(results)) == 1 and len(results[0]) == 64
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
