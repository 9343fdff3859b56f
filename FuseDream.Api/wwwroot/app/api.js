// The public API as the page uses it: every call sends the key as a Bearer token.
const keyName = "fusedream.apiKey";

export const key = {
  get: () => sessionStorage.getItem(keyName) ?? "",
  set: value => sessionStorage.setItem(keyName, value),
};

/** An error answer (problem+json) as one readable line: its title, detail and each field's reasons. */
export class ApiError extends Error {
  constructor(status, problem) {
    const fields = Object.entries(problem?.errors ?? {}).map(([f, reasons]) => `${f}: ${[].concat(reasons).join("; ")}`);
    super([problem?.title ?? `HTTP ${status}`, problem?.detail, ...fields].filter(Boolean).join(" — "));
    this.status = status;
  }
}

export async function call(path, { method = "GET", body, accept = "application/json", signal, headers = {} } = {}) {
  const response = await fetch(path, {
    method,
    signal,
    headers: {
      Authorization: `Bearer ${key.get()}`,
      Accept: accept,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  return response;
}

export const getJson = async (path, options) => (await call(path, options)).json();

/** A PNG (or any file) of the API as a blob: URL, since an <img src> cannot carry the key. */
export async function blobUrl(path, accept = "image/png") {
  const blob = await (await call(path, { accept })).blob();
  return URL.createObjectURL(blob);
}
