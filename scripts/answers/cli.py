"""The `answers` command: one subcommand per stage. The only module that parses arguments or prints."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import build
from . import settings as defaults
from .settings import Setting

if TYPE_CHECKING:
    from .search import IndexingProcess


def setting_option(setting: Setting, *declarations: str, **kwargs):
    "A click option whose default, help and environment variable are the setting's own."
    return click.option(*declarations, default=setting.default, show_default=True,
                        envvar=setting.envvar, show_envvar=bool(setting.envvar), help=setting.help,
                        **kwargs)


@click.group()
def cli() -> None:
    "Build the Written Answers Archive: sources -> database -> pages -> site."


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@setting_option(defaults.DB_PATH, "--db", "db_path", type=click.Path())
@click.option("--members", "members_dirs", type=click.Path(file_okay=False), multiple=True,
              help="Folder of member reference data (names, parties, ministerial posts); "
                   "repeat for several folders.")
@click.option("--strict", is_flag=True, envvar="STRICT",
              help="Fail (exit 1) if any record was rejected.")
def db(sources: tuple[str, ...], db_path: str, members_dirs: tuple[str, ...],
       strict: bool) -> None:
    "Read source answers (files or folders, any supported format) into the database."
    member_directory = load_member_directory(members_dirs, Path(f"{db_path}{MEMBERS_CACHE_SUFFIX}"))

    def progress(items):
        return click.progressbar(
            items, label="Reading sources", file=sys.stderr,
            item_show_func=lambda item: build.recorded_path(item[0]) if item else None)

    try:
        report = build.build_database(sources, Path(db_path), member_directory, progress=progress)
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    print_db_report(report, db_path)
    if strict and report.rejected:
        raise click.ClickException(f"{report.rejected} records rejected (strict mode)")


# The member directory a database was built with is kept beside it (`MemberDirectory.cached`).
MEMBERS_CACHE_SUFFIX = ".members.json"


class MembersOnDemand:
    """The member directory of these folders, read when first used. Its `fingerprint`, a digest
    of the files that the db stage compares to decide whether to build afresh, needs only their
    bytes: a build that finds nothing new to read never parses them (a second of the run), and
    one that does reads them back from `cache` when neither they nor the code changed.
    (Here, not in members/, whose code is part of the database's build version.)"""

    def __init__(self, paths: list[Path], cache: Path):
        from .members import ReferenceFiles

        self.paths = paths
        self.cache = cache
        self.fingerprint = ReferenceFiles.find(paths).fingerprint()
        self.directory = None

    def __getattr__(self, name: str):
        if name in ("paths", "cache", "fingerprint", "directory") or name.startswith("__"):
            raise AttributeError(name)  # not set yet (a copy being made): never load for it
        return getattr(self.loaded(), name)

    def loaded(self):
        "The directory, read now unless it was (the db stage reads it while it copies the database)."
        if self.directory is None:
            from .members import MemberDirectory

            self.directory = MemberDirectory.cached(self.paths, self.cache, build.build_version(self))
        return self.directory


def load_member_directory(members_dirs: tuple[str, ...], cache: Path):
    """The member directory of the folders there are, read only if the db stage has work for
    it; `cache` is the file it is kept in between builds."""

    found = [Path(folder) for folder in members_dirs if Path(folder).is_dir()]
    for folder in members_dirs:
        if not Path(folder).is_dir():
            click.echo(f"Member data not found at {folder}: going on without it.", err=True)
    if not found:
        if members_dirs:
            click.echo("No member data: members keep the names sources give.", err=True)
        return None
    return MembersOnDemand(found, cache)


def print_db_report(report: build.BuildReport, db_path: str) -> None:
    mode = "rebuilt" if report.rebuilt else "updated"
    skipped = sum(f.skipped for f in report.files)
    click.echo(f"{db_path} {mode}: {len(report.files)} source files "
               f"({skipped} unchanged and skipped), {len(report.superseded)} superseded by a "
               f"later version, {len(report.ignored)} in no supported format.")
    click.echo(f"{'format':<22}{'files':>7}{'read':>9}{'stored':>9}{'dupes':>9}{'rejected':>10}")
    for name, row in sorted(report.by_format().items()):
        click.echo(f"{name:<22}{row['files']:>7}{row['read']:>9}{row['stored']:>9}"
                   f"{row['duplicates']:>9}{row['rejected']:>10}")
    if report.rebuild_reason:
        click.echo(f"Built afresh: {report.rebuild_reason}.")
    if report.generation:
        click.echo(f"Generation {report.generation}: {report.changed} questions changed.")
    click.echo(f"Clipped texts replaced by full texts: {report.full_texts_applied}")
    if report.citations:
        counts = ", ".join(f"{count} {status}" for status, count in report.citations.items())
        click.echo(f"References to other questions: {counts}")
    if report.related.questions:
        click.echo(f"Asked before: {report.related.questions} questions' lists made, "
                   f"{report.related.listed} earlier questions listed")
    for path in report.links_outside:
        click.echo(f"  not followed: {path} is a link leading out of its folder", err=True)
    for path in report.links_dangling:
        click.echo(f"  not followed: {path} is a link to nothing", err=True)
    if report.urls_dropped:
        click.echo(f"Official URLs dropped (not http or https): {report.urls_dropped}")
    for file in report.files:
        if file.rejected:
            click.echo(f"  {file.rejected} rejected in {file.path} (see the rejects table)", err=True)
        if not file.balanced():
            click.echo(f"  accounting error in {file.path}: {file}", err=True)


@cli.command()
@setting_option(defaults.DB_PATH, "--db", "db_path",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@setting_option(defaults.PAGES_DIR, "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
def pages(db_path: Path, out_dir: Path) -> None:
    "Write one Markdown page (front matter in JSON, which YAML reads too, + body) per question; only changed files."
    run_pages(db_path, out_dir)


def run_pages(db_path: Path, out_dir: Path, check_all: bool = False):
    from . import pages as pages_stage

    report = pages_stage.write_pages(db_path, out_dir, check_all=check_all)
    click.echo(f"{out_dir}: {report.questions} pages ({report.rendered} converted, "
               f"{report.skipped} unchanged inputs skipped); {len(report.written)} written, "
               f"{report.unchanged} unchanged, {len(report.removed)} removed.")
    return report


def built_options(command):
    "The database and pages a site is rendered from, and the site's folder."
    for option in reversed((
            setting_option(defaults.DB_PATH, "--db", "db_path",
                           type=click.Path(exists=True, dir_okay=False, path_type=Path)),
            setting_option(defaults.PAGES_DIR, "--pages", "pages_dir",
                           type=click.Path(exists=True, file_okay=False, path_type=Path)),
            setting_option(defaults.SITE_DIR, "--out", "out_dir",
                           type=click.Path(file_okay=False, path_type=Path)))):
        command = option(command)
    return command


def site_options(command):
    "The options of the site stage, shared by the commands that run it."
    for option in reversed((
            setting_option(defaults.BASE_URL, "--base-url"),
            setting_option(defaults.DATASETTE_URL, "--datasette-url"),
            setting_option(defaults.WORKERS, "--workers"),
            click.option("--search/--no-search", default=True, show_default=True,
                         help="Bring the search index (Pagefind, one bundle a year) up to date."))):
        command = option(command)
    return command


@cli.command()
@built_options
@site_options
@click.option("--strict", is_flag=True, envvar="STRICT",
              help="Fail (exit 1) if any question page was rejected.")
def site(db_path: Path, pages_dir: Path, out_dir: Path, base_url: str, datasette_url: str,
         workers: int, search: bool, strict: bool) -> None:
    "Render the static archive: question pages, listings, feeds, sitemap, search index."
    with search_beside(db_path, out_dir, search) as indexing:
        report = run_site(db_path, pages_dir, out_dir, base_url, datasette_url, workers, search,
                          indexing=indexing)
    fail_if_rejected(report, strict)


def fail_if_rejected(report, strict: bool) -> None:
    "In strict mode, a site build that rejected a question page fails (exit 1)."
    if strict and report.rejected:
        raise click.ClickException(f"{len(report.rejected)} question pages rejected (strict mode)")


def run_site(db_path: Path, pages_dir: Path, out_dir: Path, base_url: str, datasette_url: str,
             workers: int, search: bool, check_all: bool = False,
             indexing: IndexingProcess | None = None, pages_made_afresh: bool = False):
    """The site stage, then the search index's report: that of `indexing`, made beside
    (`search_beside`), or of an indexing made now. `pages_made_afresh`: the pages stage has just
    written every page into an empty folder (`PagesReport.made_afresh`)."""
    from . import site as site_stage
    from .render import SiteConfig

    config = SiteConfig(base_url=base_url, datasette_url=datasette_url)
    report = site_stage.build_site(db_path, pages_dir, out_dir, config, workers=workers,
                                   check_all=check_all, pages_made_afresh=pages_made_afresh)
    print_site_report(report, out_dir)
    if search:
        print_index_report(index_search(db_path, out_dir, check_all, indexing))
    return report


@contextmanager
def search_beside(db_path: Path, out_dir: Path, search: bool):
    """The search index, made beside the stages that run in this block, when it will most likely
    check only the bundles of what changed (`expects_few_bundles`): it reads only the database,
    and most of its time is Pagefind's own, so it starts as soon as the database is made, in a
    process of its own (`search.IndexingProcess`). None otherwise, and run_site indexes after
    the site stage: an indexing of every bundle would compete with the site's render workers.
    The block ends once the indexing's process has ended, whether the stages failed or not."""
    from . import search as search_stage

    indexing = None
    if search and search_stage.expects_few_bundles(db_path, out_dir):
        indexing = search_stage.IndexingProcess.start(db_path, out_dir)
    try:
        yield indexing
    finally:
        if indexing is not None:
            indexing.close()


def index_search(db_path: Path, out_dir: Path, check_all: bool,
                 indexing: IndexingProcess | None = None):
    "The report of `indexing`, or of an indexing made now; a failed one ends the command."
    from . import search as search_stage

    try:
        if indexing is not None:
            return indexing.result()
        return search_stage.update_index(db_path, out_dir, check_all=check_all)
    except search_stage.SearchIndexError as error:
        raise click.ClickException(str(error)) from error


# Rejected pages named one a line, up to this many: a build whose every page was edited wrong
# (a script run over them all) must not print 56,000 lines.
REJECTED_SHOWN = 20


def print_site_report(report, out_dir: Path) -> None:
    click.echo(f"{out_dir}: {report.question_pages} question pages ({report.rendered} rendered, "
               f"{report.skipped} unchanged inputs skipped); {len(report.written)} files written, "
               f"{report.unchanged} unchanged, {len(report.removed)} outdated removed.")
    if report.rejected:
        click.echo(f"{len(report.rejected)} question pages rejected (their last good files are kept; "
                   f"`make verify` rewrites a page from the database):", err=True)
    reasons = list(report.rejected.values())
    for reason in reasons[:REJECTED_SHOWN]:
        click.echo(f"  not rendered: {reason}", err=True)
    if len(reasons) > REJECTED_SHOWN:
        click.echo(f"  … and {len(reasons) - REJECTED_SHOWN} more", err=True)
    if report.downloads is None:
        click.echo("Downloads: the database has not changed since they were made.")
    else:
        click.echo(f"Downloads: {report.downloads.files} files ({len(report.downloads.written)} "
                   f"written, {report.downloads.skipped} with unchanged rows skipped).")


def print_index_report(result) -> None:
    indexed = ", ".join(f"{name} ({count})" for name, count in result.indexed.items())
    click.echo(f"Search index: {sum(result.indexed.values())} questions indexed in "
               f"{len(result.indexed)} bundles{': ' + indexed if indexed else ''}; "
               f"{len(result.unchanged)} checked and unchanged; {len(result.removed)} removed.")


@cli.command("build")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@setting_option(defaults.DB_PATH, "--db", "db_path", type=click.Path(path_type=Path))
@click.option("--members", "members_dirs", type=click.Path(file_okay=False), multiple=True,
              help="Folder of member reference data; repeat for several folders.")
@click.option("--strict", is_flag=True, envvar="STRICT",
              help="Fail (exit 1) if any record was rejected.")
@setting_option(defaults.PAGES_DIR, "--pages", "pages_dir", type=click.Path(file_okay=False, path_type=Path))
@setting_option(defaults.SITE_DIR, "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@site_options
@click.pass_context
def build_all(context: click.Context, sources: tuple[str, ...], db_path: Path,
              members_dirs: tuple[str, ...], strict: bool, pages_dir: Path, out_dir: Path,
              base_url: str, datasette_url: str, workers: int, search: bool) -> None:
    """db, pages and site in one process: each stage makes again only what the database's
    change log says changed."""
    context.invoke(db, sources=sources, db_path=str(db_path), members_dirs=members_dirs,
                   strict=strict)
    with search_beside(db_path, out_dir, search) as indexing:
        pages_report = run_pages(db_path, pages_dir)
        site_report = run_site(db_path, pages_dir, out_dir, base_url, datasette_url, workers, search,
                               indexing=indexing, pages_made_afresh=pages_report.made_afresh)
    fail_if_rejected(site_report, strict)


@cli.command()
@built_options
@site_options
def verify(db_path: Path, pages_dir: Path, out_dir: Path, base_url: str, datasette_url: str,
           workers: int, search: bool) -> None:
    """Check every page and site file against the manifests (re-hashing them all), not only
    what the change log names; rewrite any file edited by hand or missing, and list them."""
    pages_report = run_pages(db_path, pages_dir, check_all=True)
    site_report = run_site(db_path, pages_dir, out_dir, base_url, datasette_url, workers, search,
                           check_all=True)
    repaired = [pages_dir / path for path in pages_report.written + pages_report.removed]
    repaired += [out_dir / path for path in site_report.written + site_report.removed]
    if site_report.downloads:  # made in a folder of their own, with their own report
        from .urls import DOWNLOADS

        downloads_dir = out_dir / DOWNLOADS
        repaired += [downloads_dir / name for name in site_report.downloads.written + site_report.downloads.removed]
    for path in repaired:
        click.echo(f"  repaired: {path}")
    click.echo(f"Verified: {len(repaired)} files repaired." if repaired
               else "Verified: every file is as the build wrote it.")


@cli.command()
@setting_option(defaults.BUILD_DIR, "--build", "build_dir", type=click.Path(file_okay=False, path_type=Path))
@setting_option(defaults.HOST, "--host")
@setting_option(defaults.SITE_PORT, "--site-port")
@setting_option(defaults.DATASETTE_PORT, "--datasette-port")
def serve(build_dir: Path, host: str, site_port: int, datasette_port: int) -> None:
    "Serve the built archive and, beside it, Datasette over its database (Ctrl-C stops both)."
    from . import serve as serving

    options = serving.ServeOptions(site_dir=build_dir / "site", db_path=build_dir / "answers.db",
                                   host=host, site_port=site_port, datasette_port=datasette_port)
    click.echo(f"Archive:   {options.site_url}")
    click.echo(f"Datasette: {options.datasette_url}")
    try:
        serving.serve(options)
    except serving.ServeError as error:
        raise click.ClickException(str(error)) from error
    click.echo("Stopped.")


@cli.command()
@click.option("--content", "content_dir", default="content", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The content folder: responses go to its api/ folder.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First date to ask for (tabled, answered or corrected). Default: the end "
                   "date of the last fetch, or 30 days ago on the first.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last date to ask for. Default: today.")
@click.option("--api-url", default=None,
              help="Root of the Written Questions API; /questions is appended.  "
                   "[default: https://questions-statements-api.parliament.uk/api/writtenquestions]")
@click.option("--house", "houses", multiple=True, type=click.Choice(["Commons", "Lords"]),
              help="A House to fetch (repeatable). Default: both.")
@click.option("--rate", default=2.0, show_default=True, help="Requests a second at most (0: no limit).")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a response.")
@click.option("--retries", default=5, show_default=True, help="Retries of a failed request.")
def fetch(content_dir: Path, since, until, api_url: str | None, houses: tuple[str, ...],
          rate: float, timeout: float, retries: int) -> None:
    "Fetch new and changed questions from the official API into CONTENT/api/ (resumable)."
    from . import fetch as fetching

    settings = fetching.Settings(
        api_url=api_url or fetching.DEFAULT_API_URL, houses=houses or fetching.HOUSES,
        rate=rate, timeout=timeout, max_retries=retries,
    )
    with FetchProgress() as progress:
        try:
            summary = fetching.fetch(content_dir, since=since and since.date(),
                                     until=until and until.date(), settings=settings,
                                     on_event=progress.show)
        except (fetching.FetchError, ValueError, OSError) as error:
            raise click.ClickException(f"{error} (run again to resume)") from error
    print_fetch_summary(summary)


@cli.command("extract-members")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--members", "members_dirs", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the full member reference data; repeat for several folders.")
@click.option("--out", "out_dir", default="reference", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the extract into (one subfolder per --members folder).")
def extract_members(sources: tuple[str, ...], members_dirs: tuple[Path, ...], out_dir: Path) -> None:
    "Write the member reference rows the questions in SOURCES need, in the same file formats."
    from . import extract
    from .members import MemberDirectory

    directory = MemberDirectory.load(members_dirs)
    wanted = extract.sample_member_ids(sources, directory)
    report = extract.extract(members_dirs, out_dir, wanted)
    click.echo(f"{out_dir}: the reference rows of {report.members} members.")
    for path, (kept, total) in sorted(report.rows.items()):
        click.echo(f"  {path}: {kept} of {total} rows")
    for path in report.left_out:
        click.echo(f"  left out (not needed): {path}")


@cli.command("related-statistics")
@setting_option(defaults.DB_PATH, "--db", "db_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the statistics into  [default: the reference/related/ "
                   "folder every build reads them from]")
def related_statistics(db_path: Path, out_dir: Path) -> None:
    """Write the fixed statistics "Asked before" scores with, from a built database (the whole
    corpus's): then rebuild, as the statistics are part of what a database is built by."""
    from . import queries, related

    db = queries.read_only(db_path)
    try:
        statistics = related.Statistics.of_database(db)
    finally:
        db.close()
    out_dir = out_dir or related.STATISTICS_FOLDER
    statistics.write(out_dir)
    click.echo(f"{out_dir}: {len(statistics.counts)} terms of {statistics.questions} questions "
               f"(average length {statistics.average_length:.1f} tokens).")


class FetchProgress:
    "A progress bar over the fetch's date ranges, made when the first event says how many."

    def __init__(self):
        self.bar = None

    def __enter__(self) -> FetchProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.render_finish()

    def show(self, event) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=event.windows, label="Fetching", file=sys.stderr,
                                         item_show_func=lambda text: text)
            self.bar.render_progress()
        text = f"{event.window}: {event.records}"
        if event.total:
            text += f"/{event.total}"
        self.bar.update(event.windows_done - self.bar.pos, current_item=text)


def print_fetch_summary(summary) -> None:
    how = "resumed and finished" if summary.resumed else "finished"
    click.echo(f"Fetch {summary.since}..{summary.until} {how}: {summary.pages} pages, "
               f"{summary.records} records, {summary.unique_ids} unique ids, "
               f"{summary.full_texts} full texts ({summary.full_texts_missing} not found), "
               f"{summary.retries} retries, {summary.repasses} ranges paged again.")
    for path in summary.files_changed:
        click.echo(f"  wrote {path}")
    if not summary.files_changed:
        click.echo("  nothing new: no file changed.")


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="answers")


if __name__ == "__main__":
    main()
