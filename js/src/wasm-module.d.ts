/** A `.wasm` file imported as a module: edge bundlers (wrangler, Vercel) compile it ahead of time (see `edge.ts`). */
declare module '*.wasm?module' {
  const module: WebAssembly.Module;
  export default module;
}
