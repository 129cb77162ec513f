"""The changes the update benchmarks make, written the way `make fetch` writes them.

Reads one real month of the shared corpus's API responses; writes the current month's file
(`<content>/api/YYYY-MM.json.gz`) of the benchmark's own copy of content/, through the fetch
stage's own `MonthFile`, so the bytes are what a fetch would leave. The benchmark's question is
labelled as such: its UIN starts with `BENCH-` and its id is far above the API's.
"""

from __future__ import annotations

import copy
import datetime
import gzip
import json
from pathlib import Path

from answers.fetch.archive import MonthFile

BENCH_ID = 90_000_001
CORRECTED_NOTE = " [Benchmark correction: this sentence was added to the answer.]"


def day(value: datetime.date) -> str:
    return f"{value.isoformat()}T00:00:00"


def corrected(value: dict, today: datetime.date) -> dict:
    "A copy of an answered record, as the API gives it once its answer was corrected today."
    value = copy.deepcopy(value)
    value.update(answerIsCorrection=True, dateAnswerCorrected=day(today),
                 correctingMemberId=value.get("answeringMemberId"),
                 originalAnswerText=value.get("answerText") or "",
                 answerText=(value.get("answerText") or "")[:200] + CORRECTED_NOTE)
    return value


def list_page(values: list[dict]) -> dict:
    "A list response as the API gives it and `make fetch` files it."
    results = [{"value": value, "links": [{"rel": "self", "href": f"/Questions/{value['id']}",
                                           "method": "GET"}]} for value in values]
    return {"results": results, "totalResults": len(results)}


class CurrentMonth:
    "The current month's file of the benchmark's content/api/, and the records it changes."

    def __init__(self, content: Path, real_month: Path, today: datetime.date):
        self.today = today
        self.path = content / "api" / f"{today:%Y-%m}.json.gz"
        records = [item["value"] for item in json.loads(gzip.decompress(real_month.read_bytes()))]
        answered = [value for value in records if value.get("dateAnswered") and value.get("answerText")]
        self.model = answered[0]  # a real answered record, the template of ours
        self.old = answered[len(answered) // 2]  # the old question a correction reaches

    def bench_question(self, answered: bool) -> dict:
        value = copy.deepcopy(self.model)
        tabled = self.today - datetime.timedelta(days=3)
        value.update(id=BENCH_ID, uin="BENCH-1", dateTabled=day(tabled),
                     dateForAnswer=day(tabled + datetime.timedelta(days=5)),
                     groupedQuestions=[], groupedQuestionsDates=[], answerIsCorrection=False,
                     dateAnswerCorrected=None, correctingMemberId=None)
        if not answered:
            value.update(dateAnswered=None, answerText=None, answeringMemberId=None, heading="")
        else:
            value["dateAnswered"] = day(self.today)
        return value

    def correction(self) -> dict:
        "The old question's answer corrected today."
        return corrected(self.old, self.today)

    def bench_correction(self) -> dict:
        """The benchmark question's answer corrected today. An answer filed again with nothing
        but its text changed ranks no higher than the one held (the store sets it aside as a
        conflict), so a changed answer reaches the pages as a correction."""
        return corrected(self.bench_question(answered=True), self.today)

    def file(self, values: list[dict]) -> None:
        "Add one list page to the month file and save it, as a fetch files what it found."
        self.path.parent.mkdir(parents=True, exist_ok=True)
        month = MonthFile(self.path)
        month.add(list_page(values))
        month.save()

    def old_key(self) -> str:
        "The key of the corrected question, as the database knows it."
        return f"commons-{self.old['dateTabled'][:10]}-{self.old['uin']}"
