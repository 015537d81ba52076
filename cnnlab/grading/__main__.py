"""Command line of the grading workflow: ``python -m cnnlab.grading COMMAND``.

    release   [LESSON ...] [--force]     student versions into release/, checked for leaks
    workcopy  [--to DIR]                 copy released lessons missing from work/ (never overwrites)
    grade     [LESSON ...] [--student S] autograde submitted/<student>/<lesson>/ in parallel,
                                         feedback, score table, grades.csv
    record    RESULTS.jsonl ...          record results graded on other machines (grade --shard)
    selfgrade LESSON                     grade your own work/<LESSON>/ and say where to look
    feedback  [LESSON ...]               regenerate the HTML feedback from the gradebook
                                         (after grading written answers by hand)

LESSON is a lesson's folder name or its number (``02``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnlab.grading.batch import (
    DEFAULT_TIME_LIMIT,
    cores,
    find_submissions,
    grade,
    load_results,
    record_all,
    save_results,
    score_table,
    self_report,
    selfgrade,
    write_csv,
)
from cnnlab.grading.course import Course, GradingError, make_working_copy, release
from cnnlab.grading.results import Result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.grading",
        description="The cnnlab grading workflow (nbgrader, in parallel, leak-free).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n")[1],
    )
    parser.add_argument("--course", help="the course folder (default: here, else the repository)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("release", help="generate the student versions into release/")
    p.add_argument("lessons", nargs="*", help="lessons (default: all)")
    p.add_argument("--force", action="store_true", help="regenerate even if up to date")

    p = commands.add_parser("workcopy", help="copy the released lessons a learner lacks")
    p.add_argument("--to", type=Path, help="the working folder (default: work/)")

    p = commands.add_parser("grade", help="autograde every submission, in parallel")
    p.add_argument("lessons", nargs="*", help="lessons (default: all with submissions)")
    p.add_argument("--student", action="append", dest="students", help="only this student")
    p.add_argument("--workers", type=int, default=0, help=f"processes (default: {cores()} cores)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT,
        help="seconds one submission may take (default: %(default)g)",
    )
    p.add_argument("--csv", type=Path, default=Path("grades.csv"), help="default: grades.csv")
    p.add_argument(
        "--shard", type=_shard, help="K/N: grade only the K-th of N shares of the students"
    )
    p.add_argument("--results", type=Path, help="also save the results here (JSON lines)")
    p.add_argument(
        "--no-feedback", action="store_false", dest="feedback", help="make no HTML feedback"
    )
    p.add_argument(
        "--no-sandbox",
        action="store_false",
        dest="sandboxed",
        help="run the kernels without a sandbox: only for work you trust (see the README)",
    )
    p.add_argument(
        "--memory",
        type=_gib,
        default="2",  # a string, so that argparse converts it too (to bytes)
        help="GiB of memory each kernel may use (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="the seed of the hidden cases (default: a secret one; give it to grade again alike)",
    )
    p.add_argument(
        "--fresh-kernels",
        action="store_false",
        dest="prefork",
        help="start each kernel as a new process, in a sandbox of its own (default: fork "
        "each worker's kernels from a warm process in one sandbox, cleared between them)",
    )

    p = commands.add_parser("record", help="record results saved by grade --results elsewhere")
    p.add_argument("results", nargs="+", type=Path, help="files written by grade --results")
    p.add_argument("--csv", type=Path, default=Path("grades.csv"), help="default: grades.csv")

    p = commands.add_parser("selfgrade", help="grade your own working copy of a lesson")
    p.add_argument("lesson", help="the lesson, e.g. 02 or 02-convolution")
    p.add_argument("--work", type=Path, help="the working folder (default: work/)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT)

    p = commands.add_parser("feedback", help="regenerate the HTML feedback from the gradebook")
    p.add_argument("lessons", nargs="*", help="lessons (default: all)")
    return parser


def _gib(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of GiB, like 2, not {text!r}") from None
    if not 0.25 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"between 0.25 and 1024 GiB, not {text!r}")
    return int(value * 1024**3)


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N, like 2/4, not {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"K must be between 1 and N in {text!r}")
    return k, n


def _report(course: Course, results: list[Result], csv: Path) -> None:
    print(score_table(course, results))
    csv_path = csv if csv.is_absolute() else course.root / csv
    write_csv(course, results, csv_path)
    print(f"\ngrades: {csv_path}")
    print(f"feedback: {course.feedback}/<student>/<lesson>/ (nothing hidden or solved in it)")


def _grade(course: Course, args) -> int:
    from tqdm import tqdm

    def progress(result: Result) -> None:
        bar.set_postfix_str(f"{result.student} {result.lesson.split('-')[0]}")
        bar.update()

    total = len(find_submissions(course, args.lessons or None, args.students, args.shard))
    with tqdm(total=total, unit="submission", file=sys.stderr) as bar:
        results = grade(
            course,
            args.lessons or None,
            args.students,
            shard=args.shard,
            feedback=args.feedback,
            sandboxed=args.sandboxed,
            prefork=args.prefork,
            memory=args.memory,
            seed=args.seed,
            workers=args.workers or None,
            time_limit=args.time_limit,
            progress=progress,
            log=tqdm.write,
        )
    _report(course, results, args.csv)
    if args.results:
        print(f"results: {save_results(results, args.results)}")
    return 0


def _feedback(course: Course, lessons) -> int:
    api = course.api()
    failed = 0
    for lesson in lessons or course.lessons():
        if not (course.autograded.is_dir() and any(course.autograded.glob(f"*/{lesson}"))):
            continue
        result = api.generate_feedback(lesson, force=True)
        print(f"feedback: {lesson}: {'done' if result['success'] else 'FAILED'}")
        failed += not result["success"]
    return 1 if failed else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        course = Course.find(args.course)
        if args.command == "release":
            made = release(course, args.lessons or None, force=args.force)
            print(f"release: {len(made)} generated, all up to date in {course.release_dir}")
        elif args.command == "workcopy":
            release(course)
            copied = make_working_copy(course, args.to)
            where = args.to or course.work
            print(f"working copy {where}: {', '.join(copied) or 'nothing new'} copied")
        elif args.command == "grade":
            return _grade(course, args)
        elif args.command == "record":
            results = record_all(course, [r for f in args.results for r in load_results(f)])
            _report(course, results, args.csv)
        elif args.command == "selfgrade":
            result = selfgrade(course, args.lesson, work=args.work, time_limit=args.time_limit)
            print(self_report(result, course))
        elif args.command == "feedback":
            return _feedback(course, [course.lesson(n) for n in args.lessons])
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
