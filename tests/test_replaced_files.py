"""Replacing files by filling the ones replaced before: every path holds what was last written
to it, few files are made, and a file that anyone else can still see is never filled."""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from answers import output as output_module
from answers import pages as pages_stage
from answers import replaced_files, site
from answers.manifest import page_manifest_path
from answers.output import SCRATCH_NAME, Output
from answers.render import SiteConfig
from answers.replaced_files import FOLDER_PREFIX, ReplacedFiles

# Enough pages that the first ones' files are filled again, with a writer that settles none.
PAGES = 200


def pages(root, count: int) -> list[str]:
    "`count` pages, each in a folder of its own as question pages are, holding 'old <n>'."
    paths = []
    for number in range(count):
        folder = root / "site" / str(number)
        folder.mkdir(parents=True)
        (folder / "index.html").write_bytes(f"old {number}".encode())
        paths.append(str(folder / "index.html"))
    return paths


def holds(pid: int, path: str) -> bool:
    "Whether the process has the file open."
    try:
        return any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == path for fd in os.listdir(f"/proc/{pid}/fd"))
    except FileNotFoundError:  # a descriptor closed while listed
        return False


def new_bytes(number: int) -> bytes:
    return f"new {number} ".encode() * (number % 7 + 1)


def test_each_page_holds_its_new_bytes_and_only_the_first_writes_make_files(tmp_path):
    paths = pages(tmp_path, PAGES)
    old_inodes = {os.stat(path).st_ino for path in paths}
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    for number, path in enumerate(paths):
        found = os.stat(path)
        assert open(path, "rb").read() == new_bytes(number)
        assert stat.S_IMODE(found.st_mode) == 0o644 and found.st_nlink == 1
    made = {os.stat(path).st_ino for path in paths} - old_inodes
    # The first write makes a file; every later one fills the file the write before replaced.
    assert len(made) == 1
    # Set aside, in the writer's folder: the last page's old file, none of them a page's file.
    assert len(os.listdir(writer.folder)) == 1


def test_a_file_is_filled_again_only_once_it_has_settled(tmp_path):
    paths = pages(tmp_path, 6)
    now = [0.0]
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=10, clock=lambda: now[0])
    old_inodes = [os.stat(path).st_ino for path in paths]
    for number, path in enumerate(paths[:3]):
        writer.write(path, new_bytes(number))
    assert not {os.stat(path).st_ino for path in paths[:3]} & set(old_inodes)  # three new files
    now[0] = 10.0
    writer.write(paths[3], new_bytes(3))
    assert os.stat(paths[3]).st_ino == old_inodes[0]  # the first page's old file, settled
    assert [open(path, "rb").read() for path in paths[:4]] == [new_bytes(n) for n in range(4)]


def test_a_page_held_open_keeps_the_bytes_its_reader_opened(tmp_path):
    paths = pages(tmp_path, PAGES)
    reader = open(paths[0], "rb")  # a server streaming the old page, or keeping it open
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    assert reader.read() == b"old 0"
    reader.close()
    assert open(paths[0], "rb").read() == new_bytes(0)


def test_a_page_another_process_holds_open_keeps_its_bytes(tmp_path):
    paths = pages(tmp_path, PAGES)
    reader = subprocess.Popen([sys.executable, "-c", "import sys; f = open(sys.argv[1], 'rb');"
                               " sys.stdin.read(); sys.stdout.write(f.read().decode())", paths[1]],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not holds(reader.pid, paths[1]):
        assert time.monotonic() < deadline and reader.poll() is None, "the reader never opened the page"
        time.sleep(0.01)
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    out, _ = reader.communicate(b"")
    assert out == b"old 1"


def test_a_page_sent_without_copying_arrives_as_it_was_sent(tmp_path):
    """A server that sends a page with `sendfile` (nginx, Caddy) hands the socket the file's pages
    in memory and may close the file before they leave: the bytes that arrive are the old
    page's, though its file was filled with another page's meanwhile."""
    paths = pages(tmp_path, PAGES)
    old = b"<p>the old page</p>" * 1000
    with open(paths[0], "wb") as page:
        page.write(old)
    with socket.create_server(("127.0.0.1", 0)) as server, \
            socket.create_connection(server.getsockname()) as client:
        connection, _ = server.accept()
        with connection:
            with open(paths[0], "rb") as page:
                sent = 0
                while sent < len(old):
                    sent += os.sendfile(connection.fileno(), page.fileno(), sent, len(old) - sent)
            # The page is closed, its bytes still in the sockets, unread. Every page is replaced
            # now, and the first one's file is filled again the next write.
            writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
            for number, path in enumerate(paths):
                writer.write(path, new_bytes(number))
            received = b""
            while len(received) < len(old):
                received += client.recv(65536)
    assert received == old
    assert open(paths[0], "rb").read() == new_bytes(0)


def test_a_copy_made_with_hard_links_keeps_its_bytes(tmp_path):
    paths = pages(tmp_path, PAGES)
    copies = []
    for number, path in enumerate(paths):  # as `cp -al site backup` makes it
        copies.append(tmp_path / f"backup-{number}")
        os.link(path, copies[-1])
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    assert [copy.read_bytes() for copy in copies] == [f"old {number}".encode() for number in range(len(paths))]
    assert [open(path, "rb").read() for path in paths] == [new_bytes(n) for n in range(len(paths))]


def test_a_link_in_place_of_a_page_is_replaced_and_what_it_leads_to_never_filled(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the archive's")
    paths = pages(tmp_path, PAGES)
    os.unlink(paths[0])
    os.symlink(outside, paths[0])
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    assert not os.path.islink(paths[0]) and open(paths[0], "rb").read() == new_bytes(0)
    assert outside.read_bytes() == b"not the archive's"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")
def test_a_file_of_another_user_is_never_given_to_a_page(tmp_path):
    paths = pages(tmp_path, PAGES)
    for path in paths[:10]:
        os.chown(path, 4321, 4321)
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    assert {os.stat(path).st_uid for path in paths} == {os.geteuid()}


def test_a_file_with_extended_attributes_is_never_given_to_a_page(tmp_path):
    paths = pages(tmp_path, PAGES)
    try:
        os.setxattr(paths[0], "user.note", b"page 0's")
    except OSError:
        pytest.skip("this file system keeps no extended attributes")
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    assert [path for path in paths if os.listxattr(path)] == []


def test_a_page_filled_into_a_file_of_any_mode_or_length_is_public_and_exactly_its_bytes(tmp_path):
    """A file set aside keeps its mode and length unless they must change: one made private, or
    longer than the page that fills it, is made public and cut; one as long or shorter is not cut short."""
    paths = pages(tmp_path, PAGES)
    for number, path in enumerate(paths):
        os.chmod(path, 0o600 if number % 2 else 0o644)
        with open(path, "ab") as page:  # lengths either side of every new page's, across whole blocks
            page.write(b"-" * (number * 97 % 9000))
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number) * (number % 5 * 300 + 1))
    for number, path in enumerate(paths):
        assert open(path, "rb").read() == new_bytes(number) * (number % 5 * 300 + 1)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_refilling_turned_off_makes_every_file_anew(tmp_path, monkeypatch):
    monkeypatch.setenv("REFILL_FILES", "0")
    output = Output(tmp_path / "site")
    assert output.replacing_files() is None
    for number in range(PAGES):
        output.write(f"{number}/index.html", f"old {number}")
    again = Output(tmp_path / "site", replaced=output.replacing_files())
    for number in range(PAGES):
        again.write(f"{number}/index.html", new_bytes(number))
    assert [(tmp_path / "site" / str(n) / "index.html").read_bytes() for n in range(PAGES)] == [
        new_bytes(n) for n in range(PAGES)]
    assert list((tmp_path / "site" / SCRATCH_NAME).glob("replaced.*")) == []  # nothing set aside


def test_a_failed_replace_leaves_the_file_in_place_and_nothing_to_fill(tmp_path, monkeypatch):
    paths = pages(tmp_path, 4)
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    writer.write(paths[0], b"first")
    real_replace, real_swap = os.replace, replaced_files.swap_names

    def failing(source, target):
        if target == paths[1]:
            raise OSError(errno.EIO, "the disk is full")
        return real_replace(source, target)

    def failing_swap(first, second):
        if second == paths[1]:
            raise OSError(errno.EIO, "the disk is full")
        return real_swap(first, second)

    monkeypatch.setattr(os, "replace", failing)
    monkeypatch.setattr(replaced_files, "swap_names", failing_swap)
    with pytest.raises(OSError, match="the disk is full"):
        writer.write(paths[1], b"second")
    monkeypatch.setattr(os, "replace", real_replace)
    writer.write(paths[2], b"third")
    writer.write(paths[3], b"fourth")
    # The page whose replace failed still holds its old bytes: its second name was taken back,
    # so no later write filled it.
    assert [open(path, "rb").read() for path in paths] == [b"first", b"old 1", b"third", b"fourth"]
    assert os.stat(paths[1]).st_nlink == 1


def test_a_folder_in_place_of_a_page_is_never_swapped_away_and_the_write_fails(tmp_path, monkeypatch):
    # Swapped away with the page it stands for, a folder would be in the writer's folder until
    # swapped back: a build killed meanwhile left it to be swept.
    paths = pages(tmp_path, 4)
    os.unlink(paths[1])
    os.mkdir(paths[1])
    (Path(paths[1]) / "kept.txt").write_bytes(b"someone's")
    swapped, real_swap = [], replaced_files.swap_names
    monkeypatch.setattr(replaced_files, "swap_names", lambda first, second: swapped.append(second) or
                        real_swap(first, second))
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    writer.write(paths[0], new_bytes(0))
    with pytest.raises(IsADirectoryError):
        writer.write(paths[1], new_bytes(1))
    assert paths[1] not in swapped
    for number in (2, 3):
        writer.write(paths[number], new_bytes(number))
    assert (Path(paths[1]) / "kept.txt").read_bytes() == b"someone's"
    assert [open(paths[n], "rb").read() for n in (0, 2, 3)] == [new_bytes(n) for n in (0, 2, 3)]


def test_each_page_is_set_aside_by_swapping_names_where_the_file_system_can(tmp_path, monkeypatch):
    probe = [tmp_path / "a", tmp_path / "b"]
    for path in probe:
        path.write_bytes(path.name.encode())
    try:
        replaced_files.swap_names(str(probe[0]), str(probe[1]))
    except OSError:
        pytest.skip("this file system cannot swap names")
    assert probe[0].read_bytes() == b"b" and probe[1].read_bytes() == b"a"
    paths = pages(tmp_path, PAGES)
    linked = []
    real_link = os.link
    monkeypatch.setattr(os, "link", lambda *args, **kwargs: linked.append(args) or real_link(*args, **kwargs))
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    assert linked == [] and writer.swapping  # one swap a page, no link and rename
    assert [open(path, "rb").read() for path in paths] == [new_bytes(n) for n in range(PAGES)]


def test_a_file_system_that_cannot_swap_names_links_and_renames(tmp_path, monkeypatch):
    paths = pages(tmp_path, PAGES)
    old_inodes = {os.stat(path).st_ino for path in paths}
    tried = []

    def refused(first, second):
        tried.append(second)
        raise OSError(errno.EINVAL, "not here")

    monkeypatch.setattr(replaced_files, "swap_names", refused)
    writer = ReplacedFiles(str(tmp_path / "replaced"), settle=0)
    for number, path in enumerate(paths):
        writer.write(path, new_bytes(number))
    assert [open(path, "rb").read() for path in paths] == [new_bytes(n) for n in range(PAGES)]
    assert len(tried) == 1 and not writer.swapping  # asked once
    assert len({os.stat(path).st_ino for path in paths} - old_inodes) == 1  # filled all the same


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.binary(max_size=40)), max_size=40), st.integers(0, 3))
def test_whatever_the_order_each_path_holds_what_was_last_written_to_it(tmp_path_factory, writes, settle):
    root = tmp_path_factory.mktemp("writes")
    ticks = iter(range(10_000))
    writer = ReplacedFiles(str(root / "replaced"), settle=settle, clock=lambda: next(ticks))
    last = {}
    for number, data in writes:
        path = str(root / f"{number}.html")
        writer.write(path, data)
        last[path] = data
        assert {p: open(p, "rb").read() for p in last} == last


def test_the_build_sweeps_what_its_writers_set_aside(tmp_path):
    output = Output(tmp_path / "site")
    for number in range(PAGES):
        output.write(f"{number}/index.html", f"old {number}")
    writer = Output(tmp_path / "site", replaced=output.replacing_files())
    writer.replaced.settle = 0
    for number in range(PAGES):
        writer.write(f"{number}/index.html", new_bytes(number))
    assert os.listdir(writer.replaced.folder)
    output.remove_leftovers(("*.tmp",))
    assert not (tmp_path / "site" / SCRATCH_NAME).exists()
    assert [(tmp_path / "site" / str(n) / "index.html").read_bytes() for n in range(PAGES)] == [
        new_bytes(n) for n in range(PAGES)]


def test_a_folder_found_among_the_replaced_files_is_left_by_the_sweep(tmp_path):
    output = Output(tmp_path / "site")
    output.write("1/index.html", "old 1")
    writer = Output(tmp_path / "site", replaced=output.replacing_files())
    writer.write("1/index.html", new_bytes(1))
    # As a build killed between swapping a folder out of a page's place and back would leave it.
    moved = Path(writer.replaced.folder) / "99"
    moved.mkdir()
    (moved / "kept.txt").write_bytes(b"someone's")
    output.remove_leftovers(("*.tmp",))
    assert (moved / "kept.txt").read_bytes() == b"someone's"
    assert [path.name for path in Path(writer.replaced.folder).iterdir()] == ["99"]  # the files went


def test_a_site_build_after_a_change_fills_the_files_of_pages_it_replaced(built_site, tmp_path, monkeypatch):
    """The render workers' writes go through their replaced files: after a change that re-renders
    every question page (a new base URL), nearly every page is a file that another page had, and
    no page is left with the old bytes."""
    site_dir = tmp_path / "site"
    site.build_site(built_site.db, built_site.pages, site_dir, built_site.config, workers=1)
    pages_before = sorted(site_dir.glob("*/*/*/index.html"))  # question pages and listings
    filled = []

    class Counted(ReplacedFiles):
        def reusable(self):
            found = super().reusable()
            filled.append(found is not None)
            return found

    monkeypatch.setattr(Output, "replacing_files", lambda output: Counted(
        os.path.join(output.scratch_path, "replaced.test"), settle=0))
    config = SiteConfig(base_url="https://elsewhere.example.org/")
    site.build_site(built_site.db, built_site.pages, site_dir, config, workers=1)
    assert len(filled) > 1000  # the question pages; the listings are the main process's
    assert filled.count(True) >= len(filled) - 1  # all but the first write fill a replaced file
    assert all("https://elsewhere.example.org/" in path.read_text() for path in pages_before)
    assert not (site_dir / SCRATCH_NAME).exists()


@dataclass
class WorkerSweeps:
    """What the sweeps of a build's replaced files found: each process's, as (its pid, the files
    its folder held), and the folders left when the build's own sweep began."""
    log: Path
    left_at_build_sweep: list[Path]

    def by_process(self) -> list[tuple[str, int]]:
        return [(pid, int(held)) for pid, held in (line.split() for line in self.log.read_text().splitlines())]


def watch_sweeps(folder: Path, monkeypatch) -> WorkerSweeps:
    """Each sweep of a folder of replaced files logged in `folder` (a file: workers are processes of their
    own), and the files never refilled (an hour to settle), so that every file a writer replaced
    is still set aside when it is swept."""
    folder.mkdir()
    found = WorkerSweeps(folder / "swept.txt", [])
    sweep, build_sweep = output_module.remove_replaced_files, Output.remove_leftovers

    def counted(replaced_folder):
        held = len(os.listdir(replaced_folder)) if replaced_folder.is_dir() else 0
        with open(found.log, "a") as log:
            log.write(f"{os.getpid()} {held}\n")
        sweep(replaced_folder)

    def recorded(output, names):
        found.left_at_build_sweep.extend(output.scratch.glob(f"{FOLDER_PREFIX}*"))
        return build_sweep(output, names)

    monkeypatch.setattr(output_module, "remove_replaced_files", counted)
    monkeypatch.setattr(Output, "remove_leftovers", recorded)
    monkeypatch.setattr(Output, "replacing_files", lambda output: ReplacedFiles(
        os.path.join(output.scratch_path, f"{FOLDER_PREFIX}test.{os.getpid()}"), settle=3600))
    return found


def test_render_workers_sweep_their_own_replaced_files_as_they_exit(built_site, tmp_path, monkeypatch):
    """Each render worker of a pool removes the files it set aside as it exits, beside the other:
    the build's own sweep finds none left."""
    site_dir = tmp_path / "site"
    site.build_site(built_site.db, built_site.pages, site_dir, built_site.config, workers=2)
    sweeps = watch_sweeps(tmp_path / "sweeps", monkeypatch)
    monkeypatch.setattr(site, "CHUNK", 50)  # chunks enough for both workers
    config = SiteConfig(base_url="https://elsewhere.example.org/")
    report = site.build_site(built_site.db, built_site.pages, site_dir, config, workers=2)
    swept = sweeps.by_process()
    assert len({pid for pid, _ in swept}) == 2 and str(os.getpid()) not in {pid for pid, _ in swept}
    # Every question page was replaced; its twin is kept (no base URL in it).
    assert sum(held for _, held in swept) == report.question_pages
    assert sweeps.left_at_build_sweep == []
    assert not (site_dir / SCRATCH_NAME).exists()
    assert all("https://elsewhere.example.org/" in (site_dir / path).read_text()
               for path in report.written if path.endswith("index.html"))


def test_pages_workers_sweep_their_own_replaced_files_as_they_exit(built_site, tmp_path, monkeypatch):
    """So do the pages stage's workers, which make every page when the manifest holds none (new
    code): here over pages spoiled by hand, each of which they replace."""
    out = tmp_path / "pages"
    monkeypatch.setattr(pages_stage, "WORKERS", 2)
    monkeypatch.setattr(pages_stage, "PARALLEL_FROM", 2)
    monkeypatch.setattr(pages_stage, "CHUNK", 50)
    pages_stage.write_pages(built_site.db, out)
    made = sorted(out.rglob("index.md"))
    expected = {path: path.read_bytes() for path in made}
    for path in made:
        path.write_text("spoiled")
    page_manifest_path(out).unlink()
    sweeps = watch_sweeps(tmp_path / "sweeps", monkeypatch)
    pages_stage.write_pages(built_site.db, out)
    swept = sweeps.by_process()
    assert len({pid for pid, _ in swept}) == 2 and str(os.getpid()) not in {pid for pid, _ in swept}
    assert sum(held for _, held in swept) == len(made)
    assert sweeps.left_at_build_sweep == []
    assert {path: path.read_bytes() for path in made} == expected


def test_a_workers_sweep_removes_nothing_through_a_link(tmp_path):
    """A worker's own folder of replaced files, or the scratch folder it is in, swapped for a link
    while the build ran: what the link leads to is left as it is."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "1").write_bytes(b"someone's")
    scratch = tmp_path / "site" / SCRATCH_NAME
    scratch.mkdir(parents=True)
    (scratch / f"{FOLDER_PREFIX}linked").symlink_to(elsewhere)
    output_module.remove_own_replaced_files(scratch / f"{FOLDER_PREFIX}linked")
    linked_scratch = tmp_path / "other-site" / SCRATCH_NAME
    linked_scratch.parent.mkdir()
    linked_scratch.symlink_to(tmp_path)  # "elsewhere" is then a folder in it
    output_module.remove_own_replaced_files(linked_scratch / "elsewhere")
    assert (elsewhere / "1").read_bytes() == b"someone's"
    output_module.remove_own_replaced_files(elsewhere)  # a real folder: swept
    assert not elsewhere.exists()
