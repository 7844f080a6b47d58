// Time llama.cpp's forward pass (the prebuilt library of the node-llama-cpp
// npm package, CPU, 2 threads) on a GGUF: N_CHUNKS chunks of N_CTX tokens,
// each evaluated in one batch in a fresh context, as llama-perplexity does.
// Only the evaluation is timed (not loading the model).  Used by
// bench/bench_mem.c for the "same file, same run" comparison.
//
//   node bench/llamacpp_eval.mjs NODE_LLAMA_CPP_DIR MODEL.gguf N_CTX N_CHUNKS VOCAB
// (token ids are spread over 3 .. VOCAB-1)
// prints {"tokens": N, "seconds": S}
import {pathToFileURL} from "node:url";

const [dir, modelPath, nCtxArg, nChunksArg, vocabArg] = process.argv.slice(2);
const {getLlama, LlamaLogLevel} = await import(
    pathToFileURL(`${dir}/node_modules/node-llama-cpp/dist/index.js`).href);
const nCtx = Number(nCtxArg), nChunks = Number(nChunksArg);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const vocab = Number(vocabArg);
let seconds = 0, tokens = 0;
for (let c = 0; c < nChunks; c++) {
    const ctx = await model.createContext({contextSize: nCtx, batchSize: nCtx, sequences: 1,
                                           threads: 2});
    const seq = ctx.getSequence();
    const toks = [];
    for (let j = 0; j < nCtx; j++)
        toks.push(j === 0 ? (model.tokens.bos ?? 1) : 3 + ((j * 7919 + c * 104729) % (vocab - 3)));
    const t0 = process.hrtime.bigint();
    await seq.evaluateWithoutGeneratingNewTokens(toks);
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    tokens += nCtx;
    await ctx.dispose();
}
await model.dispose();
await llama.dispose();
console.log(JSON.stringify({tokens, seconds}));
