import { seconds } from "@mlflow-dev/kernel/progress";

/**
 * Pure: the progress of an image pull, from the Docker engine's JSON stream (POST /images/create
 * answers one CreateImageInfo object per line: `status`, the layer's short `id`, `progressDetail`
 * `{ current, total }` in bytes while downloading or extracting, and `errorDetail` when the pull
 * failed, which it reports with status 200 like any other line).
 */

/** One line of the engine's pull stream. */
export interface PullMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

type Phase = "waiting" | "downloading" | "downloaded" | "extracting" | "done";

interface Layer {
  phase: Phase;
  /** Bytes downloaded so far. */
  current: number;
  /** The layer's compressed size, once the engine says it. */
  total: number | undefined;
  /** The layer was already in the engine: nothing to download. */
  cached: boolean;
}

/** Where a pull stands: bytes are the compressed layers', which is what goes over the network. */
export interface PullSummary {
  /** Layers to fetch (those the engine already had are `cached`). */
  layers: number;
  /** Of those, downloaded. */
  downloaded: number;
  /** Of those, extracted. */
  done: number;
  /** Layers the engine already had. */
  cached: number;
  bytesDone: number;
  /** The sum of the sizes known so far (a layer's size is known once its download starts). */
  bytesTotal: number;
  /** Every layer's size is known. */
  totalKnown: boolean;
  /** The engine's error, when the pull failed. */
  error: string | undefined;
}

const DOWNLOADED: readonly string[] = ["Verifying Checksum", "Download complete"];

/** Follows a pull's messages; `summary()` at any time says where it stands. */
export class PullProgress {
  private readonly layers = new Map<string, Layer>();
  private error: string | undefined;

  update(m: PullMessage): void {
    if (m.errorDetail?.message || m.error) {
      this.error = m.errorDetail?.message ?? m.error;
      return;
    }
    const status = m.status ?? "";
    const id = m.id;
    // Lines without a layer ("Digest: ...", "Status: ...") and the first "Pulling from <repo>" (its id is the tag).
    if (!id || status.startsWith("Pulling from")) return;
    const layer = this.layers.get(id) ?? { phase: "waiting", current: 0, total: undefined, cached: false };
    this.layers.set(id, layer);
    const detail = m.progressDetail ?? {};
    if (status === "Already exists") {
      layer.cached = true;
      layer.phase = "done";
    } else if (status === "Downloading") {
      layer.phase = "downloading";
      if (detail.total !== undefined && detail.total > 0) layer.total = detail.total;
      if (detail.current !== undefined) layer.current = detail.current;
    } else if (DOWNLOADED.includes(status)) {
      layer.phase = "downloaded";
      if (layer.total !== undefined) layer.current = layer.total;
    } else if (status === "Extracting") {
      layer.phase = "extracting";
      if (layer.total !== undefined) layer.current = layer.total;
    } else if (status === "Pull complete") {
      layer.phase = "done";
      if (layer.total !== undefined) layer.current = layer.total;
    }
  }

  summary(): PullSummary {
    const all = [...this.layers.values()];
    const fetched = all.filter((l) => !l.cached);
    return {
      layers: fetched.length,
      downloaded: fetched.filter((l) => l.phase === "downloaded" || l.phase === "extracting" || l.phase === "done")
        .length,
      done: fetched.filter((l) => l.phase === "done").length,
      cached: all.length - fetched.length,
      bytesDone: fetched.reduce((n, l) => n + l.current, 0),
      bytesTotal: fetched.reduce((n, l) => n + (l.total ?? 0), 0),
      totalKnown: fetched.every((l) => l.total !== undefined || l.phase !== "waiting"),
      error: this.error,
    };
  }
}

/** Bytes as people read them (decimal units, as Docker prints them). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** One line for a pull in progress: `postgres:17: 120 MB of 450 MB, 3 of 7 layers`. */
export function describePull(ref: string, s: PullSummary): string {
  if (s.layers === 0) return `${ref}: resolving${s.cached > 0 ? `, ${s.cached} layer(s) already there` : ""}`;
  const bytes =
    s.bytesTotal > 0
      ? `${formatBytes(s.bytesDone)} of ${s.totalKnown ? "" : "at least "}${formatBytes(s.bytesTotal)}`
      : "waiting for the layers' sizes";
  const extracting = s.downloaded === s.layers && s.done < s.layers ? `, extracting ${s.done + 1} of ${s.layers}` : "";
  return `${ref}: ${bytes}, ${s.downloaded} of ${s.layers} layers downloaded${extracting}`;
}

/** The line at a pull's end: what was fetched. */
export function describePulled(ref: string, s: PullSummary, ms: number): string {
  const cached = s.cached > 0 ? ` (${s.cached} already there)` : "";
  return `pulled ${ref}: ${formatBytes(s.bytesDone)} in ${s.layers} layer${s.layers === 1 ? "" : "s"}${cached}, ${seconds(ms)}`;
}
