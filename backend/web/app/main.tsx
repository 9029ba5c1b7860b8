/**
 * Entry point of the web UI bundle (`deno bundle --platform browser`): renders {@linkcode App}
 * into `#root`.
 *
 * @module
 */
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app.tsx";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
