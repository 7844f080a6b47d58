// Perplexity of GGUF models by llama.cpp itself (the prebuilt library of
// the node-llama-cpp npm package), computed as llama-perplexity does: chunks
// of N_CTX tokens, the first set to BOS, every position evaluated, the
// second half scored (-log p of the next token).  The token ids are given
// (the same file tests/tool_pplids reads), so only the forward pass is
// compared.
//
//   node tests/llamacpp_ppl.mjs NODE_LLAMA_CPP_DIR IDS N_CTX N_CHUNKS MODEL.gguf...
// prints one line per model: {"model": M, "ppl": P, "scored": N}
// IDS: integers separated by spaces, commas or brackets.
import {pathToFileURL} from "node:url";
import {readFileSync} from "node:fs";

const [dir, idsPath, nCtxArg, nChunksArg, ...models] = process.argv.slice(2);
const {getLlama, LlamaLogLevel} = await import(
    pathToFileURL(`${dir}/node_modules/node-llama-cpp/dist/index.js`).href);
const nCtx = Number(nCtxArg), nChunks = Number(nChunksArg);
const ids = readFileSync(idsPath, "utf8").split(/[^0-9]+/).filter(s => s.length).map(Number);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});

async function ppl(modelPath) {
    const model = await llama.loadModel({modelPath});
    const bos = model.tokens.bos ?? 1;
    let nll = 0, scored = 0;
    for (let c = 0; c < nChunks && (c + 1) * nCtx <= ids.length; c++) {
        const ctx = await model.createContext({contextSize: nCtx, batchSize: nCtx, sequences: 1});
        const seq = ctx.getSequence();
        const toks = ids.slice(c * nCtx, (c + 1) * nCtx);
        toks[0] = bos;
        const first = nCtx / 2;
        const res = await seq.controlledEvaluate(toks.map((t, j) =>
            j >= first && j < nCtx - 1 ? [t, {generateNext: {probabilities: true}}] : t));
        for (let j = first; j < nCtx - 1; j++) {
            nll -= Math.log(res[j].next.probabilities.get(toks[j + 1]));
            scored++;
        }
        await ctx.dispose();
    }
    await model.dispose();
    return {model: modelPath, ppl: Math.exp(nll / scored), scored};
}

for (const m of models)
    console.log(JSON.stringify(await ppl(m)));
await llama.dispose();
