/**
 * Small React hooks: a ticking clock and an element's width.
 *
 * @module
 */
import { type RefObject, useEffect, useRef, useState } from "react";

/** `Date.now()`, refreshed every `everyMillis` while `active`. */
export function useNow(everyMillis: number, active = true): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), everyMillis);
    return () => clearInterval(timer);
  }, [everyMillis, active]);
  return now;
}

/** A ref to put on an element, and that element's current width in CSS pixels. */
export function useWidth<T extends Element>(): [RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWidth(entry.contentRect.width));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}
