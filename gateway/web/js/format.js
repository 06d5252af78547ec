// Proto3 JSON values as people read them: times in the class's timezone, "3000s" durations,
// enum names without their prefix.

const DEFAULT_TIMEZONE = "Asia/Manila";

function zone(timezone) {
  return timezone || DEFAULT_TIMEZONE;
}

/** "Thu 19 Nov, 07:30" in the given timezone; "" for an unset time. */
export function dateTime(value, timezone) {
  if (!value) return "";
  return new Intl.DateTimeFormat("en-PH", {
    timeZone: zone(timezone),
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(value));
}

/** "07:31:05" in the given timezone; "" for an unset time. */
export function clock(value, timezone) {
  if (!value) return "";
  return new Intl.DateTimeFormat("en-PH", {
    timeZone: zone(timezone),
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(new Date(value));
}

/** A datetime-local input's value (local time) as RFC 3339 UTC; "" when empty. */
export function rfc3339(localValue) {
  return localValue ? new Date(localValue).toISOString() : "";
}

/** Seconds of a proto3 JSON Duration ("3000s", "1.5s"); 0 when unset. */
export function seconds(duration) {
  if (!duration) return 0;
  return Number(String(duration).replace(/s$/, "")) || 0;
}

/** "1 h 5 min", "12 min", "40 s". */
export function duration(value) {
  const total = Math.round(typeof value === "number" ? value : seconds(value));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return rest ? `${Math.floor(minutes / 60)} h ${rest} min` : `${Math.floor(minutes / 60)} h`;
}

/** "ATTENDANCE_STATUS_PRESENT" -> "Present" (`prefix` is removed first). */
export function label(value, prefix) {
  const bare = String(value || "").replace(prefix, "");
  if (!bare || bare === "UNSPECIFIED") return "";
  const words = bare.toLowerCase().replace(/_/g, " ");
  return words[0].toUpperCase() + words.slice(1);
}

export function percent(value) {
  return `${(Number(value) || 0).toFixed(1)} %`;
}
