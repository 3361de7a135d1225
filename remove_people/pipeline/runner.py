"""The pipeline runner: inputs in batches through detect → select → refine → inpaint → write.

Why this shape:
- Cache keys chain (input bytes → detect → refine → inpaint), and they can all be
  computed before any model is loaded, so the runner looks from the last stage
  backwards and a fully cached re-run touches no network weights at all.
- Decoding the next batch and encoding finished outputs run on a thread pool while
  the models work on the current batch (PIL, OpenCV and torch release the GIL).
- On a CPU, inpainting (85-90 % of the time) runs in worker processes
  (``pipeline/inpaint_pool.py``, ``run.inpaint_workers``) while this process detects
  and refines the next batch, so every core is busy; a bounded number of photos is
  in flight, so memory stays flat over big folders.
- A bad input fails alone: one line names the file and the reason, the others go on.
- Every file is written atomically, so Ctrl-C or a kill leaves only complete outputs.

Why so long (about 570 lines): ``Pipeline`` is the one place where a photo's steps are
ordered (batches, cache look-ups from the last stage back, the inpainting pool, the writes),
and each step is a method the Ray executor reuses on its own (``load_one``, ``detect_batch``,
``write_one``, ...); cut apart, that order would be spread over modules that all need the
same state. What does not need it lives elsewhere: the output plan, the cache, the pool,
encoding, the summary.
"""

from __future__ import annotations

import errno
import hashlib
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import AbstractSet, Any, Callable, Iterator

import cv2
import numpy as np

from remove_people.config import Config, build_stage
from remove_people.errors import InputError, RemovePeopleError, short_reason
from remove_people.pipeline.cache import ArtifactCache, make_key
from remove_people.pipeline.inpaint_pool import InpaintPool, InpaintReply, parse_workers, plan_workers, run_inpaint
from remove_people.pipeline.inputs import InputItem, InputSet
from remove_people.pipeline.interrupts import sigterm_as_interrupt
from remove_people.pipeline.encode import opencv_encode
from remove_people.pipeline.formats import normalize_format
from remove_people.pipeline.output_plan import format_suffix, plan_for_config, side_paths
from remove_people.pipeline.summary import ImageOutcome, RunSummary
from remove_people.stages.detect.base import Frame, Instance
from remove_people.stages.select import Selector


@dataclass
class _Work:
    """One image in flight through the stages."""

    item: InputItem
    out_path: Path
    loaded: Any = None  # loaded_image.LoadedImage
    content_hash: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] | None = None
    mask: np.ndarray | None = None
    #: Persons that stay in the photo (255): never a source for the fill (``Selector.source_exclusion``).
    exclude: np.ndarray | None = None
    persons: int = 0
    result: np.ndarray | None = None
    frame_extra: dict = field(default_factory=dict)
    #: The refined mask was not in the cache: it is computed (detect → select → refine) this run.
    fresh_mask: bool = False
    #: Set when a stage failed for this image (or it is skipped on purpose, e.g. its hole is too
    #: large for ``run.max_hole_fraction``); later stages skip it and it is not written.
    failed: ImageOutcome | None = None
    #: The share of the frame the refined mask repaints (0..1), for the large-hole warning.
    hole_fraction: float = 0.0


class Pipeline:
    """Builds the three stages from a ``Config`` and runs them over an ``InputSet``.

    ``on_progress(done, total, stage)`` lets the CLI drive a progress bar; the Python
    API can ignore it.
    """

    def __init__(
        self,
        config: Config,
        cache: ArtifactCache | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        run = config.run
        self.cache = cache or ArtifactCache(run.get("cache_dir"), enabled=bool(run.get("cache", True)))
        self.detector = build_stage("detect", config=config)
        self.refiner = build_stage("refine", config=config)
        self.inpainter = build_stage("inpaint", config=config)
        self.selector = Selector.from_config(config)
        self.on_progress = on_progress or (lambda done, total, stage: None)
        self.on_message = on_message or (lambda msg: None)
        self.batch_size = max(1, int(run.get("batch_size", 8)))
        self.max_pixels = int(run.get("max_pixels") or 0) or None
        self._computed: set[str] = set()
        #: Worker processes for inpainting, planned on the first photo that needs filling
        #: (a fully cached run never even asks where the inpainter would run); kept across
        #: runs of this pipeline and stopped by ``close``.
        self._pool: InpaintPool | None = None
        self._pool_planned = False
        self._run_images = 0
        #: During ``run``: the one thread that writes cache entries, and the writes not yet known done.
        self._cache_pool: ThreadPoolExecutor | None = None
        self._cache_writes: deque[Future] = deque()
        parse_workers(run.get("inpaint_workers", "auto"))  # a bad value fails before any work
        #: Set when the output disk is full or read-only: every later write would fail too,
        #: so the run stops taking new batches (finished outputs stay) instead of grinding on.
        self._stop_reason: str | None = None

    # -- identities ------------------------------------------------------------------------

    def _stage_keys(self, content_hash: str) -> dict[str, str]:
        kd = make_key("detect", content_hash, self.detector.identity())
        kr = make_key("refine", kd, self.refiner.identity(), self.selector.identity())
        ki = make_key("inpaint", kr, self.inpainter.identity())
        return {"detect": kd, "refine": kr, "inpaint": ki}

    def output_path(self, out_dir: Path, item: InputItem) -> Path:
        """The item's planned output (``pipeline/output_plan.py``); unplanned items mirror their rel."""
        if item.output is not None:
            return item.output
        suffix = format_suffix(self.config.run.get("format"))
        return out_dir / (Path(item.rel).with_suffix(suffix) if suffix else Path(item.rel))

    # -- the run ----------------------------------------------------------------------------

    def run(self, inputs: InputSet, out_dir: Path) -> RunSummary:
        """Process ``inputs`` into ``out_dir``. SIGTERM stops it like Ctrl-C (``interrupted``).

        Inputs not yet planned (the Python API) are planned here, before any work, so the
        same collision and safety rules hold (a ``UsageError`` if the plan is unsafe).
        """
        if any(it.output is None for it in inputs.items):
            inputs = plan_for_config(inputs, out_dir, self.config, self.cache).inputs
        with sigterm_as_interrupt():
            return self._run(inputs, out_dir)

    def _run(self, inputs: InputSet, out_dir: Path) -> RunSummary:
        # Skipped hidden files, symlink loops, renamed outputs; a stage's own notes (records of a
        # --masks annotation file that name no image).
        notes = list(inputs.warnings) + list(getattr(self.detector, "notes", []))
        summary = RunSummary(warnings=notes)
        for note in notes:
            self.on_message(f"warning: {note}")
        summary.settings = {
            "detect": self.detector.identity(),
            "refine": self.refiner.identity(),
            "select": self.selector.identity(),
            "inpaint": self.inpainter.identity(),
        }
        t_start = time.perf_counter()
        items = list(inputs.items)
        total = len(items)
        done = 0
        io_threads = max(1, int(self.config.run.get("io_threads", 2)))
        skip_existing = bool(self.config.run.get("skip_existing"))
        input_paths = {str(it.path.resolve()) for it in items}

        def load(work: _Work) -> _Work | ImageOutcome:
            return self.load_one(work, summary, input_paths)

        def batches() -> Iterator[list[InputItem]]:
            for i in range(0, total, self.batch_size):
                yield items[i : i + self.batch_size]

        self._run_images = total
        inflight: deque[tuple[_Work, Future | None]] = deque()
        pending_writes: list[Future] = []
        pool = ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="rp-io")
        # One thread, so entries land in the order they were made: a photo's detect entry before
        # its refine entry before its result, as when they were written here (a kill leaves a prefix).
        self._cache_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rp-cache")
        try:
            next_loads: list[Future] | None = None
            batch_iter = batches()

            def submit(batch: list[InputItem]) -> list[Future]:
                futs = []
                for it in batch:
                    out_path = self.output_path(out_dir, it)
                    if skip_existing and out_path.exists():
                        f: Future = Future()
                        f.set_result(ImageOutcome(it.rel, "skipped", output=str(out_path), skip_reason="exists"))
                        futs.append(f)
                    else:
                        futs.append(pool.submit(load, _Work(it, out_path)))
                return futs

            first = next(batch_iter, None)
            if first is not None:
                next_loads = submit(first)
            while next_loads is not None:
                if self._stop_reason:
                    for f in next_loads:
                        f.cancel()
                    break
                loaded = [f.result() for f in next_loads]
                upcoming = next(batch_iter, None)
                next_loads = submit(upcoming) if upcoming is not None else None  # prefetch while we compute
                works = [w for w in loaded if isinstance(w, _Work)]
                for w in works:
                    note = w.loaded.warning  # e.g. a multi-frame file: only its first frame is used
                    if note:
                        summary.warnings.append(f"{w.item.rel}: {note}")
                        self.on_message(f"warning: {w.item.rel}: {note}")
                for o in loaded:
                    if isinstance(o, ImageOutcome):
                        summary.outcomes.append(o)
                        done += 1
                        if o.status == "failed":
                            self.on_message(f"failed: {o.message}")
                self.on_progress(done, total, "detect")
                self.prepare_masks(works, summary)
                for w in works:
                    inflight.append((w, self._start_inpaint(w)))
                self._collect(inflight, summary, pending_writes, pool, keep=self._max_inflight())
                self._drain(pending_writes, summary, block=False)
                self.on_progress(len(summary.outcomes), total, "inpaint" if inflight else "write")
            self._collect(inflight, summary, pending_writes, pool, keep=0)
            self._drain(pending_writes, summary, block=True)
            self._wait_cache_writes()
            if self._stop_reason:
                msg = f"stopped after {len(summary.outcomes)} of {total} images: {self._stop_reason}"
                summary.warnings.append(msg)
                self.on_message(f"failed: {msg}")
            self.on_progress(len(summary.outcomes), total, "done")
        except KeyboardInterrupt:
            summary.interrupted = True
            if self._pool is not None:
                self._pool.close(force=True)
            for f in pending_writes:
                f.cancel()
            self._drain(pending_writes, summary, block=True, swallow_cancel=True)
            self._wait_cache_writes()  # what was computed stays cached: the next run resumes from it
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._cache_pool.shutdown(wait=True)  # queued entries are finished, never dropped
            self._cache_pool = None
            self._cache_writes.clear()
            summary.wall_seconds = time.perf_counter() - t_start
            summary.cache_hits = dict(self.cache.stats.hits)
            summary.cache_misses = dict(self.cache.stats.misses)
            summary.cache_corrupt = self.cache.stats.corrupt
            summary.models_loaded = sorted(self._computed)
        return summary

    def _cache_put(self, put: Callable[..., None], *args: Any) -> None:
        """Store a cache entry: on the run's cache-writer thread during ``run``, else here and now.

        Why: encoding the entries' PNGs (instance masks, the mask, the result) was the main
        thread's largest cost after detection, and the main thread is what the inpainting
        workers wait on; OpenCV's encoder releases the GIL. The entries are still written
        atomically and in order (one thread), and ``run`` waits for them before it returns
        (also after Ctrl-C).
        """
        if self._cache_pool is None:
            put(*args)
            return
        writes = self._cache_writes
        while writes and writes[0].done():  # one thread: they finish in order
            writes.popleft().result()  # a failed write that is not an OSError (which the cache reports) is a bug: raise it
        writes.append(self._cache_pool.submit(put, *args))

    def _wait_cache_writes(self) -> None:
        writes = self._cache_writes
        while writes:
            writes.popleft().result()

    def _drain(self, futures: list[Future], summary: RunSummary, block: bool, swallow_cancel: bool = False) -> None:
        still = []
        for f in futures:
            if block or f.done():
                try:
                    outcome = f.result()
                except BaseException as err:  # noqa: BLE001 - cancelled or interrupted writes
                    if swallow_cancel:
                        continue
                    raise err
                summary.outcomes.append(outcome)
                if outcome.status == "failed":
                    self.on_message(f"failed: {outcome.message}")
            else:
                still.append(f)
        futures[:] = still

    @staticmethod
    def _add_time(summary: RunSummary, stage: str, seconds: float) -> None:
        summary.stage_seconds[stage] = summary.stage_seconds.get(stage, 0.0) + seconds

    # -- the stages ----------------------------------------------------------------------------
    #
    # One method per stage, each working on a batch of ``_Work`` items in place, so that an
    # executor other than ``run`` (pipeline/ray_executor.py: Ray actor pools) calls the very
    # same code, one stage per worker, through the same ``ArtifactCache``.

    def load_one(self, work: _Work, summary: RunSummary, input_paths: AbstractSet[str] = frozenset()) -> _Work | ImageOutcome:
        """Read and decode one input and compute its cache keys; a bad file becomes a failed outcome.

        ``input_paths`` (resolved input paths) guards against an output that would overwrite an input.
        """
        from remove_people.pipeline.image_reader import read_image

        t = time.perf_counter()
        try:
            if input_paths and str(work.out_path.resolve()) in input_paths:
                raise InputError(work.item.path, "its output path is an input file; choose another --out")
            work.loaded = read_image(work.item.path, **({"max_pixels": self.max_pixels} if self.max_pixels else {}))
            work.content_hash = hashlib.sha256(work.loaded.data).hexdigest()
            work.keys = self._stage_keys(work.content_hash)
            return work
        except RemovePeopleError as err:
            return ImageOutcome(work.item.rel, "failed", message=_reason(err, work.item))
        except Exception as err:  # a decoder bug must not end the run
            return ImageOutcome(work.item.rel, "failed", message=f"{work.item.rel}: cannot read ({type(err).__name__}: {err})")
        finally:
            self._add_time(summary, "decode", time.perf_counter() - t)

    def prepare_masks(self, works: list[_Work], summary: RunSummary) -> None:
        """The refined mask of each work item, from the cache where possible (lookup → detect → refine)."""
        self.lookup_batch(works)
        self.detect_batch(works, summary)
        self.refine_batch(works, summary)

    def check_hole_sizes(self, works: list[_Work]) -> None:
        """Measure how much of each frame is repainted; skip photos over ``run.max_hole_fraction``.

        Why: when the hole covers most of the frame (a close-up), no fill can come out
        well. The runner says so per photo (``ImageOutcome.large_hole``, ``--verbose``,
        ``--json``, the summary), and ``run.max_hole_fraction`` lets a user leave such
        photos out instead of getting a result that is mostly invented.
        """
        limit = self.config.run.get("max_hole_fraction")
        for w in works:
            if w.failed is not None or w.mask is None:
                continue
            w.hole_fraction = float(np.count_nonzero(w.mask)) / max(1, w.mask.size)
            if limit is not None and w.hole_fraction > float(limit):
                w.failed = ImageOutcome(
                    w.item.rel,
                    "skipped",
                    w.persons,
                    message=f"{w.item.rel}: not written: the removed region covers {w.hole_fraction:.0%} of the frame "
                    f"(run.max_hole_fraction {float(limit):g}); raise it to process this photo",
                    hole_fraction=round(w.hole_fraction, 4),
                    skip_reason="large-hole",
                )

    def _collect(
        self, inflight: deque, summary: RunSummary, pending_writes: list[Future], pool: ThreadPoolExecutor, keep: int
    ) -> None:
        """Finish photos in order while more than ``keep`` wait or the oldest is done; queue their writes."""
        while inflight and (len(inflight) > keep or inflight[0][1] is None or inflight[0][1].done()):
            w, fut = inflight.popleft()
            if fut is not None:
                self._finish_inpaint(w, fut, summary)
            if w.failed is not None:
                summary.outcomes.append(w.failed)
                self.on_message(f"{w.failed.status}: {w.failed.message}")
            else:
                pending_writes.append(pool.submit(self.write_one, w, summary))

    def lookup_batch(self, works: list[_Work]) -> None:
        """Look from the last stage backwards: a cached mask, and then a cached result, skip the models.

        Items whose refined mask is not cached get ``fresh_mask``; the later stages compute them.
        """
        for w in works:
            shape = w.loaded.rgb.shape[:2]
            got = self.cache.get_mask(w.keys["refine"], shape)
            if got is not None:
                w.mask, meta, w.exclude = got
                w.persons = int(meta.get("persons", 0))
                if w.mask.any():
                    w.result = self.cache.get_result(w.keys["inpaint"], shape)
            else:
                w.fresh_mask = True

    def detect_batch(self, works: list[_Work], summary: RunSummary) -> None:
        """Instances for the items that need a fresh mask: from the cache, else from the detector in one call."""
        need_refine = [w for w in works if w.fresh_mask and w.failed is None]
        need_detect: list[_Work] = []
        for w in need_refine:
            cached = self.cache.get_instances(w.keys["detect"]) if self.detector.cacheable else None
            if cached is None:
                need_detect.append(w)
            else:
                w.instances = cached
        if not need_detect:
            return
        t = time.perf_counter()
        frames = [Frame(w.loaded.rgb, w.item.path, w.item.rel) for w in need_detect]
        try:
            found = self.detector.detect(frames)
        except InputError:
            # One bad mask must not fail the batch: retry one by one to find the culprit.
            found = []
            for w, fr in zip(need_detect, frames):
                try:
                    found.append(self.detector.detect([fr])[0])
                except RemovePeopleError as one:
                    w.failed = ImageOutcome(w.item.rel, "failed", message=_reason(one, w.item))
                    found.append([])
        self._computed.add(f"detect:{self.detector.name}")
        for w, fr, inst in zip(need_detect, frames, found):
            w.instances = inst
            if "warning" in fr.extra:
                msg = f"{w.item.rel}: {fr.extra['warning']}"
                summary.warnings.append(msg)
                self.on_message(f"warning: {msg}")
            if w.failed is None and self.detector.cacheable:
                self._cache_put(self.cache.put_instances, w.keys["detect"], inst, {"image": w.item.rel})
        if not self.detector.cacheable:
            self.cache.stats.misses["detect"] += len(need_detect)
        self._add_time(summary, "detect", time.perf_counter() - t)

    def refine_batch(self, works: list[_Work], summary: RunSummary) -> None:
        """Select whom to remove and refine their masks into one hole mask, cached per image."""
        t = time.perf_counter()
        for w in works:
            if not w.fresh_mask or w.failed is not None:
                continue
            instances = w.instances or []
            remove, protect = self.selector.select(instances, w.loaded.rgb.shape[:2], w.item)
            w.persons = sum(1 for i in remove if i.is_person)
            w.mask = self.refiner.refine(w.loaded.rgb, remove, protect) if remove else np.zeros(w.loaded.rgb.shape[:2], np.uint8)
            w.exclude = self.selector.source_exclusion(instances, remove, w.mask) if remove else None
            self._computed.add(f"refine:{self.refiner.name}")
            self._cache_put(self.cache.put_mask, w.keys["refine"], w.mask, {"image": w.item.rel, "persons": w.persons}, w.exclude)
        self.check_hole_sizes(works)  # cached masks too: every executor calls this method
        self._add_time(summary, "refine", time.perf_counter() - t)

    def inpaint_batch(self, works: list[_Work], summary: RunSummary) -> None:
        """Fill the holes of the items that have one and no cached result yet (all before returning)."""
        started = [(w, self._start_inpaint(w)) for w in works]
        for w, fut in started:
            if fut is not None:
                self._finish_inpaint(w, fut, summary)

    def _inpaint_pool(self) -> InpaintPool | None:
        """The worker pool, planned once (``run.inpaint_workers``); ``None`` = inpaint in this process."""
        if not self._pool_planned:
            self._pool_planned = True
            workers, threads = plan_workers(self.config.run.get("inpaint_workers", "auto"), self.inpainter, self._run_images)
            if workers:
                self._pool = InpaintPool(self.inpainter, workers, threads)
        return self._pool

    def _max_inflight(self) -> int:
        """Photos whose masks are done and whose inpainting may still run: at most this many wait,
        so the next batch is detected while workers fill holes, yet memory stays bounded."""
        return max(self.batch_size, 2 * (self._pool.workers if self._pool is not None else 0))

    def _start_inpaint(self, w: _Work) -> Future | None:
        """Begin filling ``w``'s holes: in a worker if there is a pool, else here and now.

        ``None`` when there is nothing to fill: no hole, a failed item, or a cached result.
        """
        if w.failed is not None or w.result is not None or w.mask is None or not w.mask.any():
            return None
        if w.fresh_mask:  # a fresh mask may still match a result cached earlier
            w.result = self.cache.get_result(w.keys["inpaint"], w.loaded.rgb.shape[:2])
            if w.result is not None:
                return None
        pool = self._inpaint_pool()
        if pool is not None:
            return pool.submit(w.loaded.rgb, w.mask, w.exclude)
        done: Future = Future()
        done.set_result(run_inpaint(self.inpainter, w.loaded.rgb, w.mask, w.exclude))
        return done

    def _finish_inpaint(self, w: _Work, fut: Future, summary: RunSummary, retried: bool = False) -> None:
        """Take a reply: the result goes to the cache, a failure becomes the photo's outcome."""
        try:
            reply: InpaintReply = fut.result()
        except BrokenProcessPool:
            # A worker died (killed, out of memory): replace the pool and try this photo once more.
            assert self._pool is not None
            self._pool.restart(getattr(fut, "generation", -1))
            if not retried:
                self._finish_inpaint(w, self._pool.submit(w.loaded.rgb, w.mask, w.exclude), summary, retried=True)
                return
            reply = InpaintReply(None, 0.0, "the inpainting worker process died twice (out of memory?); run again to retry")
        self._add_time(summary, "inpaint", reply.seconds)
        if reply.error is not None:
            msg = f"{w.item.rel}: {reply.error}" if reply.known else f"{w.item.rel}: inpainting failed ({reply.error})"
            w.failed = ImageOutcome(w.item.rel, "failed", message=msg)
            return
        w.result = reply.result
        self._computed.add(f"inpaint:{self.inpainter.name}")
        self._cache_put(self.cache.put_result, w.keys["inpaint"], w.result, {"image": w.item.rel})

    def write_one(self, w: _Work, summary: RunSummary) -> ImageOutcome:
        """Encode and write one output (and its mask / comparison) atomically."""
        from remove_people.pipeline.atomic import atomic_write_bytes
        from remove_people.pipeline.encode import encode_image

        t = time.perf_counter()
        run = self.config.run
        try:
            changed = w.mask is not None and w.mask.any()
            fmt = run.get("format")
            same_format = not fmt or normalize_format(str(fmt)) == w.loaded.format
            if not changed and same_format and run.get("quality") is None:
                data = w.loaded.data  # nobody to remove: the original bytes, untouched
            else:
                rgb = w.result if changed else w.loaded.rgb
                data, _ = encode_image(
                    rgb, w.loaded, changed=(w.mask > 0) if changed else None, format=fmt, quality=run.get("quality")
                )
            atomic_write_bytes(w.out_path, data)
            mask_path, compare_path = side_paths(w.out_path)
            if run.get("save_masks") and w.mask is not None:
                atomic_write_bytes(mask_path, opencv_encode(".png", w.mask))
            if run.get("compare") and changed:
                atomic_write_bytes(compare_path, compare_image(w.loaded.rgb, w.mask, w.result))
            return ImageOutcome(
                w.item.rel,
                "changed" if changed else "unchanged",
                w.persons,
                str(w.out_path),
                hole_fraction=round(w.hole_fraction, 4),
                large_hole=bool(changed) and w.hole_fraction >= float(run.get("large_hole_warning") or 1.0),
            )
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) and not self._stop_reason:
                self._stop_reason = (
                    f"cannot write to {w.out_path.parent} ({err.strerror}); finished outputs are kept, "
                    f"free space or choose another --out and run again to resume"
                )
            return ImageOutcome(w.item.rel, "failed", w.persons, message=f"{w.item.rel}: cannot write {w.out_path} ({err.strerror or err})")
        except RemovePeopleError as err:
            return ImageOutcome(w.item.rel, "failed", w.persons, message=_reason(err, w.item))
        finally:
            self._add_time(summary, "encode", time.perf_counter() - t)
            w.loaded = None  # let the pixels go: memory stays flat over big folders
            w.result = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        for stage in (self.detector, self.refiner, self.inpainter):
            stage.close()


def _reason(err: RemovePeopleError, item: InputItem) -> str:
    return f"{item.rel}: {short_reason(err)}"


def compare_image(original: np.ndarray, mask: np.ndarray, result: np.ndarray, height: int = 512) -> bytes:
    """A JPEG of original | red mask overlay | result, side by side, for a quick look."""
    overlay = original.copy()
    red = np.zeros_like(original)
    red[..., 0] = 255
    hole = mask > 0
    overlay[hole] = (0.5 * original[hole] + 0.5 * red[hole]).astype(np.uint8)
    panels = []
    for img in (original, overlay, result):
        h, w = img.shape[:2]
        s = height / h
        panels.append(cv2.resize(img, (max(1, round(w * s)), height), interpolation=cv2.INTER_AREA))
    strip = np.concatenate(panels, axis=1)
    return opencv_encode(".jpg", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
