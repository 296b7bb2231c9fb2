'use client';
// A client component: tracks what the URL's fragment asks (a customer token in it) once
// mounted, and leaves the outcome in window.EDGEMETER_RESULT for the runner.
import { useEffect } from 'react';
import { trackAll } from '../track.js';

export default function Page() {
  useEffect(() => {
    const c = JSON.parse(decodeURIComponent(window.location.hash.slice(1)));
    trackAll(c)
      .catch((e) => ({ error: String((e && e.stack) || e) }))
      .then((r) => {
        window.EDGEMETER_RESULT = r;
      });
  }, []);
  return <p>edgemeter consumer</p>;
}
