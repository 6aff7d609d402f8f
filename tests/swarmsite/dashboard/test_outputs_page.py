"""The Outputs pages: login and roles, empty states, filters, pagination, partials, each event type
rendered readably, lineage links and graph, pinned query counts; and the read-only admin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from stores.output_types import Artifact, FileRef, Final, InlineContent, OutputRecord, Partial, Progress
from swarmsite.composition import output_store
from tests.swarmsite.dashboard.helpers import LOG_READ

pytestmark = pytest.mark.django_db

DONE = Final(content=InlineContent({"verdict": "pass", "tests": 12}), ok=True)


def add(task: str = "task-1", attempt: int = 1, producer: str = "planner", event: Any = DONE,
        parents: list[str] | None = None) -> OutputRecord:
    return output_store().append(task, attempt, producer, event, parents or [])


def html(client: Client, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_outputs_pages_need_login_and_a_role(client: Client) -> None:
    ref = add().ref
    for path in ("/outputs/", f"/outputs/{ref}/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(User.objects.create_user("nobody", password="pw-nobody-1"))
    assert client.get("/outputs/").status_code == 403


def test_outputs_page_has_an_empty_state_and_a_nav_link(viewer_client: Client) -> None:
    page = html(viewer_client, "/outputs/")
    assert "No output has been appended yet" in page
    assert 'href="/outputs/" aria-current="page"' in page
    assert 'data-live-kinds="output."' in page


def test_outputs_page_lists_outputs_newest_first_with_links(viewer_client: Client) -> None:
    first = add(event=Progress(stage="planning", note="reading the issue"))
    second = add(producer="coder")
    page = html(viewer_client, "/outputs/")
    assert page.index(f'id="output-{second.ref}"') < page.index(f'id="output-{first.ref}"')
    assert f'href="/outputs/{first.ref}/"' in page
    assert "planning: reading the issue" in page
    assert "final · ok" in page


def test_outputs_page_filters_by_task_attempt_producer_and_kind(viewer_client: Client) -> None:
    a = add(task="t1", attempt=1, producer="p", event=Progress(stage="a"))
    b = add(task="t1", attempt=2, producer="q")
    c = add(task="t2", attempt=1, producer="p")

    def shown(query: str) -> set[str]:
        return set(re.findall(r'id="output-(out-[0-9a-f]{10})"', html(viewer_client, f"/outputs/?{query}")))

    assert shown("task_id=t1") == {a.ref, b.ref}
    assert shown("task_id=t1&attempt=2") == {b.ref}
    assert shown("producer=p") == {a.ref, c.ref}
    assert shown("kind=progress") == {a.ref}
    # Nonsense filter values are ignored, never an error.
    assert shown("attempt=abc&kind=bogus") == {a.ref, b.ref, c.ref}
    assert shown("attempt=99999999999999999999") == {a.ref, b.ref, c.ref}
    assert shown("task_id=t%001") == {a.ref, b.ref}  # the NUL is dropped
    assert "No outputs match these filters." in html(viewer_client, "/outputs/?producer=nobody")


def test_outputs_page_paginates(viewer_client: Client) -> None:
    refs = [add(event=Progress(stage=f"step {i}")).ref for i in range(55)]
    first, second = html(viewer_client, "/outputs/"), html(viewer_client, "/outputs/?page=2")
    assert refs[-1] in first and refs[0] not in first
    assert refs[0] in second and "Page 2 of 2" in second


def test_htmx_refresh_renders_only_the_table_partial(viewer_client: Client) -> None:
    add(producer="gamma")
    body = html(viewer_client, "/outputs/", **{"HX-Request": "true"})
    assert body.lstrip().startswith('<section id="output-table"')
    assert "<html" not in body and "gamma" in body


def test_outputs_page_query_count_does_not_grow_with_rows(
    viewer_client: Client, django_assert_num_queries: Any
) -> None:
    add()
    viewer_client.get("/outputs/")  # warm the session
    # session, user, role (view), count, page, last event id, role (context processor)
    with django_assert_num_queries(7 + LOG_READ):
        viewer_client.get("/outputs/")
    for i in range(30):
        add(event=Progress(stage=str(i)), parents=[])
    with django_assert_num_queries(7 + LOG_READ):
        viewer_client.get("/outputs/")


# The detail page.


def test_detail_of_unknown_ref_is_404(viewer_client: Client) -> None:
    assert viewer_client.get("/outputs/out-0000000000/").status_code == 404


def test_detail_renders_progress_stage_and_note(viewer_client: Client) -> None:
    ref = add(event=Progress(stage="testing", note="ran 12 tests")).ref
    page = html(viewer_client, f"/outputs/{ref}/")
    assert "<h2>Progress</h2>" in page
    assert '<dd class="stage">testing</dd>' in page and "ran 12 tests" in page


def test_detail_renders_inline_text_as_text_and_json_pretty(viewer_client: Client) -> None:
    text = add(event=Partial(chunk=InlineContent("line one\nline two"))).ref
    page = html(viewer_client, f"/outputs/{text}/")
    assert '<pre class="content text">line one\nline two</pre>' in page
    final = add().ref
    page = html(viewer_client, f"/outputs/{final}/")
    pretty = '{\n  &quot;tests&quot;: 12,\n  &quot;verdict&quot;: &quot;pass&quot;\n}'
    assert f'<pre class="content json">{pretty}</pre>' in page
    assert "Final result" in page


def test_detail_renders_a_file_ref_as_a_reference_not_a_link(viewer_client: Client) -> None:
    content = FileRef(path="javascript:alert(1)//report.md", mime="text/markdown", size_hint=2048)
    ref = add(event=Artifact(name="report.md", content=content)).ref
    page = html(viewer_client, f"/outputs/{ref}/")
    assert 'Artifact <code>report.md</code>' in page
    assert '<code class="file-ref-path">javascript:alert(1)//report.md</code>' in page
    assert "text/markdown" in page and "2.0\xa0KB" in page
    assert 'href="javascript:' not in page


def test_detail_of_a_failed_final_says_so_and_escapes_content(viewer_client: Client) -> None:
    ref = add(event=Final(content=InlineContent("<script>alert(1)</script>"), ok=False)).ref
    page = html(viewer_client, f"/outputs/{ref}/")
    assert "transport-level failure" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_detail_shows_lineage_links_and_graph(viewer_client: Client) -> None:
    left, right = add(producer="a", event=Progress(stage="l")), add(producer="b", event=Progress(stage="r"))
    middle = add(producer="c", parents=[right.ref, left.ref])
    child = add(producer="d", parents=[middle.ref])
    page = html(viewer_client, f"/outputs/{middle.ref}/")
    parents = page[page.index('id="lineage-parents"'):page.index('id="lineage-children"')]
    assert parents.index(right.ref) < parents.index(left.ref)  # stored order
    children = page[page.index('id="lineage-children"'):]
    assert f'href="/outputs/{child.ref}/"' in children
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('class="edge"') == 3
    for ref in (left.ref, right.ref, child.ref):
        assert f'<a href="/outputs/{ref}/" class="node-link">' in svg
    assert f'<a href="/outputs/{middle.ref}/"' not in svg  # the current node is not a link
    root = html(viewer_client, f"/outputs/{left.ref}/")
    assert "None: this output starts a lineage." in root


def test_lineage_graph_summarises_many_children(viewer_client: Client) -> None:
    root = add(event=Progress(stage="root"))
    for i in range(11):
        add(producer=f"w{i}", parents=[root.ref])
    page = html(viewer_client, f"/outputs/{root.ref}/")
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('class="node-link"') == 8
    assert "+3 more" in svg
    assert '<h3>Children <span class="muted small">11</span></h3>' in page


def test_detail_htmx_refresh_renders_only_the_lineage_partial(viewer_client: Client) -> None:
    ref = add().ref
    body = html(viewer_client, f"/outputs/{ref}/", **{"HX-Request": "true"})
    assert body.lstrip().startswith('<section id="lineage"')
    assert "<html" not in body


def test_detail_query_count_is_pinned(viewer_client: Client, django_assert_num_queries: Any) -> None:
    parents = [add(event=Progress(stage=str(i))).ref for i in range(5)]
    middle = add(parents=parents)
    for _ in range(5):
        add(parents=[middle.ref])
    viewer_client.get(f"/outputs/{middle.ref}/")
    # session, user, role, the output, its parents, the child count (ref, count, page), last event, role
    with django_assert_num_queries(10 + LOG_READ):
        viewer_client.get(f"/outputs/{middle.ref}/")


# Admin.


def test_admin_shows_outputs_read_only(admin_client: Client) -> None:
    parent = add(event=Progress(stage="p"))
    child = add(parents=[parent.ref])
    listing = admin_client.get("/admin/stores/output/")
    assert listing.status_code == 200 and child.ref in listing.content.decode()
    from stores.models import Output

    pk = Output.objects.get(ref=child.ref).pk
    change = admin_client.get(f"/admin/stores/output/{pk}/change/")
    assert change.status_code == 200 and parent.ref in change.content.decode()
    assert admin_client.get("/admin/stores/output/add/").status_code == 403
    assert admin_client.post(f"/admin/stores/output/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert Output.objects.filter(pk=pk).exists()


def test_task_ids_with_slashes_and_spaces_link_to_their_task_page(viewer_client: Client) -> None:
    first = add(task="plan/step 1?", attempt=0, producer="p", event=Progress(stage="a"))
    final = add(task="plan/step 1?", attempt=0, producer="p", parents=[first.ref])
    task_url = "/tasks/plan/step%201%3F/"
    for page in ("/outputs/", f"/outputs/{final.ref}/", "/"):
        body = html(viewer_client, page)
        assert f'href="{task_url}"' in body, page
    task = html(viewer_client, task_url)
    assert first.ref in task and final.ref in task
