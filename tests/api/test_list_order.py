"""GET /api/v1/recordings?sort=: a list in another order, paged by its own cursor."""

from __future__ import annotations

from tests.api.conftest import API, upload
from tests.support import assert_error


def test_a_list_sorts_by_title_and_length_and_pages_in_that_order(client, audio_files) -> None:
    made = [upload(client, audio_files["short_mp3"], f"{name}.mp3").json()["id"] for name in "cab"]
    client.patch(f"{API}/{made[0]}", json={"title": "Zebra talk"})  # c.mp3, titled
    seen, cursor = [], None
    while True:
        params = {"sort": "title", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(API, params=params).json()
        seen += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [made[1], made[2], made[0]]  # a.mp3, b.mp3, "Zebra talk"
    oldest = client.get(API, params={"sort": "oldest"}).json()["items"]
    assert [item["id"] for item in oldest] == made
    newest = client.get(API).json()["items"]
    assert [item["id"] for item in newest] == made[::-1]
    assert len(client.get(API, params={"sort": "longest"}).json()["items"]) == 3


def test_a_cursor_pages_only_the_order_it_was_made_for(client, audio_files) -> None:
    for name in "abc":
        upload(client, audio_files["short_mp3"], f"{name}.mp3")
    titled = client.get(API, params={"sort": "title", "limit": 1}).json()["next_cursor"]
    listed = client.get(API, params={"limit": 1}).json()["next_cursor"]
    assert_error(
        client.get(API, params={"sort": "longest", "cursor": titled}), 400, "invalid_cursor"
    )
    assert_error(client.get(API, params={"sort": "title", "cursor": listed}), 400, "invalid_cursor")
    assert_error(client.get(API, params={"cursor": titled}), 400, "invalid_cursor")
    assert_error(client.get(API, params={"sort": "size"}), 422, "invalid_request")
    assert_error(client.get(API, params={"q": "a", "sort": "title"}), 400, "invalid_field")
