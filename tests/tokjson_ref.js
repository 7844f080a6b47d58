// tokjson_ref.js: the reference side of tests/e2e_tokjson.sh.  Encodes
// NUL-separated texts with the JS tokenizer of an npm package
// (@lenml/tokenizers, a fork of transformers.js) and prints one line of
// space-separated ids per text, without special tokens (no BOS), then the
// line "default: IDS" with the ids of "Hello" with the special tokens the
// tokenizer adds by default.
//
//   node tokjson_ref.js TOKENIZERS_DIST_MAIN_JS MODELS_DIR TEXTS [--bench]
//
// MODELS_DIR holds tokenizer.json and tokenizer_config.json.  --bench
// prints only "TOKENS SECONDS": the median of 3 timed encodings of all the
// texts after one warm-up pass, the word cache cleared before each (qlens
// keeps no cache), for bench/bench_tokjson.c.
'use strict';
const fs = require('fs');
const [mainJs, dir, textsPath, flag] = process.argv.slice(2);
if (!mainJs || !dir || !textsPath) {
    process.stderr.write('usage: node tokjson_ref.js MAIN_JS MODELS_DIR TEXTS [--bench]\n');
    process.exit(2);
}
const { TokenizerLoader } = require(mainJs);
const tokenizerJSON = JSON.parse(fs.readFileSync(dir + '/tokenizer.json', 'utf8'));
const tokenizerConfig = JSON.parse(fs.readFileSync(dir + '/tokenizer_config.json', 'utf8'));
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
const texts = fs.readFileSync(textsPath, 'utf8').split('\0');
const enc = (t) => tok.encode(t, { add_special_tokens: false });
if (flag !== '--bench') {
    process.stdout.write(texts.map((t) => enc(t).join(' ')).join('\n') + '\n');
    /* last line: what the tokenizer adds by default (BOS or not) */
    process.stdout.write('default: ' + tok.encode('Hello').join(',') + '\n');
} else {
    let n = 0;
    for (const t of texts) n += enc(t).length; /* warm-up: JIT, lazy tables */
    const secs = [];
    for (let r = 0; r < 3; r++) {
        if (tok.model.clear_cache) tok.model.clear_cache();
        const t0 = process.hrtime.bigint();
        for (const t of texts) enc(t);
        secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    secs.sort((a, b) => a - b);
    process.stdout.write(`${n} ${secs[1]}\n`);
}
