// Raw next-token logits of GGUF models from llama.cpp itself (the prebuilt
// library of the node-llama-cpp npm package), for the positions
// llama-perplexity scores: chunks of N_CTX tokens, the first set to BOS,
// positions N_CTX/2 .. N_CTX-2 of each chunk.  Used by
// tests/e2e_kl_llamacpp.sh to build llama.cpp's --kl-divergence-base file
// and its KL statistics independently of qlens.
//
//   node tests/llamacpp_logits.mjs NODE_LLAMA_CPP_DIR IDS N_CTX N_CHUNKS OUT MODEL.gguf...
// writes OUT.<i>.f32 for the i-th model: float32 little-endian,
// (N_CHUNKS * (N_CTX - 1 - N_CTX/2), n_vocab) in token-id order, and prints
// one line per model: {"model": M, "file": F, "n_vocab": V, "rows": R}.
// IDS: integers separated by spaces, commas or brackets.
import {pathToFileURL} from "node:url";
import {readFileSync, writeFileSync} from "node:fs";

const [dir, idsPath, nCtxArg, nChunksArg, out, ...models] = process.argv.slice(2);
const {getLlama, LlamaLogLevel} = await import(
    pathToFileURL(`${dir}/node_modules/node-llama-cpp/dist/index.js`).href);
const nCtx = Number(nCtxArg), nChunks = Number(nChunksArg);
const ids = readFileSync(idsPath, "utf8").split(/[^0-9]+/).filter(s => s.length).map(Number);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});

async function logits(modelPath, file) {
    const model = await llama.loadModel({modelPath});
    const bos = model.tokens.bos ?? 1;
    const first = nCtx / 2, rowsPer = nCtx - 1 - first;
    let nVocab = 0, buf = null; /* the vocabulary: the size of the first row */
    for (let c = 0; c < nChunks; c++) {
        const ctx = await model.createContext({contextSize: nCtx, batchSize: nCtx, sequences: 1});
        const seq = ctx.getSequence();
        const toks = ids.slice(c * nCtx, (c + 1) * nCtx);
        if (toks.length < nCtx)
            throw new Error(`only ${ids.length} ids for ${nChunks} chunks of ${nCtx}`);
        toks[0] = bos;
        const res = await seq.controlledEvaluate(toks.map((t, j) =>
            j >= first && j < nCtx - 1 ? [t, {generateNext: {logits: true}}] : t));
        for (let j = first; j < nCtx - 1; j++) {
            const m = res[j].next.logits;
            if (!buf) {
                nVocab = m.size;
                buf = new Float32Array(nChunks * rowsPer * nVocab);
            }
            const row = (c * rowsPer + j - first) * nVocab;
            if (m.size !== nVocab)
                throw new Error(`${m.size} logits, vocabulary ${nVocab}`);
            for (const [t, v] of m)
                buf[row + t] = v;
        }
        await ctx.dispose();
    }
    await model.dispose();
    writeFileSync(file, Buffer.from(buf.buffer));
    return {model: modelPath, file, n_vocab: nVocab, rows: nChunks * rowsPer};
}

let i = 0;
for (const m of models)
    console.log(JSON.stringify(await logits(m, `${out}.${i++}.f32`)));
await llama.dispose();
