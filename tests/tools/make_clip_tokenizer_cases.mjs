// Generates tests/golden/tokenizers/clip_synthetic: a small CLIP-style BPE tokenizer trained
// on a toy corpus, written in both forms a diffusers checkpoint may ship
//   slow/  vocab.json + merges.txt + tokenizer_config.json + special_tokens_map.json
//   fast/  tokenizer.json (laid out as transformers' CLIP converter writes it for
//          CLIPTokenizerFast) + tokenizer_config.json + special_tokens_map.json
// and cases.json with reference ids computed by @lenml/tokenizers (a fork of
// transformers.js, an implementation of Hugging Face tokenizers independent of diffuse)
// from the fast form.
//
// Never run at build or test time. To regenerate:
//   mkdir /tmp/clipref && cd /tmp/clipref && npm init -y && npm install @lenml/tokenizers@3.7.2
//   node /path/to/diffuse/tests/tools/make_clip_tokenizer_cases.mjs /path/to/diffuse/tests/golden/tokenizers/clip_synthetic
// (the package is resolved from the current directory).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "noop.js"));
const { TokenizerLoader } = require("@lenml/tokenizers");

const outDir = process.argv[2];
if (!outDir) throw new Error("usage: node make_clip_tokenizer_cases.mjs OUT_DIR");

const NUM_MERGES = 400;
const MAX_LENGTH = 77;

// ---- the toy corpus (written for this fixture) ----------------------------------------
const corpus = `
A photo of a cat sitting on a wooden table next to a window, soft morning light.
A painting of a lighthouse on a rocky coast at sunset, oil on canvas, dramatic clouds.
An astronaut riding a horse on the moon, highly detailed, 4k, cinematic lighting.
A cute corgi wearing sunglasses on the beach, 35mm photo, shallow depth of field.
Portrait of an old fisherman with a grey beard, black and white photography.
A bowl of ramen with an egg, green onions and pork, studio food photography.
The city at night with neon signs reflected in the rain, cyberpunk style.
A watercolor illustration of a fox in a snowy forest, gentle colors.
It's a beautiful day; we're going to the park and they've brought the dog.
I'm sure you'll like it, and he'd say the same thing about the painting.
Three red apples and two green pears on a white plate, still life.
A futuristic car driving through the desert, dust trailing behind it.
Close-up of a hummingbird drinking from a flower, macro lens, sharp focus.
A cozy cabin in the mountains covered with snow, smoke from the chimney.
A sign that says "hello world" in bold letters, photorealistic.
Digital art of a dragon flying over a medieval castle, epic fantasy.
The quick brown fox jumps over the lazy dog while the cat watches.
A bright yellow sunflower field under a clear blue sky in summer.
Café au lait and a croissant on a marble counter, Parisian breakfast.
A robot reading a book in a library, warm light, detailed illustration.
`;

// ---- CLIP text pipeline (the conventions of transformers' CLIP tokenizers) -------------
const CLIP_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/gu;

function byteToUnicode() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; ++b) bs.push(b);
  for (let b = 0xa1; b <= 0xac; ++b) bs.push(b);
  for (let b = 0xae; b <= 0xff; ++b) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; ++b) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n += 1;
    }
  }
  // In bs order, as CLIP lists its base vocabulary.
  return bs.map((b, i) => [b, String.fromCodePoint(cs[i])]);
}
const BYTE_PAIRS = byteToUnicode();
const BYTE_CHAR = new Map(BYTE_PAIRS);

function clipWords(text) {
  const normalized = text.normalize("NFC").replace(/\s+/gu, " ").toLowerCase();
  const words = normalized.match(CLIP_PATTERN) || [];
  return words.map((w) => Array.from(new TextEncoder().encode(w), (b) => BYTE_CHAR.get(b)).join(""));
}

// ---- BPE training: most frequent adjacent pair first, ties by the pair's text ----------
function train(text, numMerges) {
  const counts = new Map();
  for (const w of clipWords(text)) counts.set(w, (counts.get(w) || 0) + 1);
  const words = [...counts.entries()].map(([w, c]) => {
    const chars = Array.from(w);
    chars[chars.length - 1] += "</w>";
    return { symbols: chars, count: c };
  });
  const merges = [];
  for (let m = 0; m < numMerges; ++m) {
    const pairs = new Map();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; ++i) {
        const key = symbols[i] + " " + symbols[i + 1];
        pairs.set(key, (pairs.get(key) || 0) + count);
      }
    }
    let best = null;
    for (const [key, c] of pairs) {
      if (best === null || c > best[1] || (c === best[1] && key < best[0])) best = [key, c];
    }
    if (best === null) break;
    const [a, b] = best[0].split(" ");
    merges.push([a, b]);
    for (const w of words) {
      const out = [];
      for (let i = 0; i < w.symbols.length; ++i) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(a + b);
          ++i;
        } else {
          out.push(w.symbols[i]);
        }
      }
      w.symbols = out;
    }
  }
  return merges;
}

const merges = train(corpus, NUM_MERGES);
const vocab = {};
let nextId = 0;
for (const [, ch] of BYTE_PAIRS) vocab[ch] = nextId++;
for (const [, ch] of BYTE_PAIRS) vocab[ch + "</w>"] = nextId++;
for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = nextId++;
const BOS = "<|startoftext|>", EOS = "<|endoftext|>";
const bosId = nextId++;
const eosId = nextId++;
vocab[BOS] = bosId;
vocab[EOS] = eosId;

// tokenizer_config.json as the FLUX.1 checkpoint's tokenizer folder has it (its
// added_tokens_decoder marks <|startoftext|> normalized and <|endoftext|> not).
const tokenizerConfig = {
  add_prefix_space: false,
  added_tokens_decoder: {
    [bosId]: { content: BOS, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
    [eosId]: { content: EOS, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
  },
  bos_token: BOS,
  clean_up_tokenization_spaces: true,
  do_lower_case: true,
  eos_token: EOS,
  errors: "replace",
  model_max_length: MAX_LENGTH,
  pad_token: EOS,
  tokenizer_class: "CLIPTokenizer",
  unk_token: EOS,
};
const specialTokensMap = {
  bos_token: { content: BOS, lstrip: false, normalized: true, rstrip: false, single_word: false },
  eos_token: { content: EOS, lstrip: false, normalized: true, rstrip: false, single_word: false },
  pad_token: EOS,
  unk_token: { content: EOS, lstrip: false, normalized: true, rstrip: false, single_word: false },
};

const tokenizerJson = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [
    { id: bosId, content: BOS, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    { id: eosId, content: EOS, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: {
    type: "Sequence",
    normalizers: [
      { type: "NFC" },
      { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
      { type: "Lowercase" },
    ],
  },
  pre_tokenizer: {
    type: "Sequence",
    pretokenizers: [
      {
        type: "Split",
        pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
        behavior: "Removed",
        invert: true,
      },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    ],
  },
  post_processor: {
    type: "RobertaProcessing",
    sep: [EOS, eosId],
    cls: [BOS, bosId],
    trim_offsets: false,
    add_prefix_space: false,
  },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: "BPE",
    dropout: null,
    unk_token: EOS,
    continuing_subword_prefix: "",
    end_of_word_suffix: "</w>",
    fuse_unk: false,
    byte_fallback: false,
    vocab,
    merges: merges.map(([a, b]) => `${a} ${b}`),
  },
};

// ---- reference ids ------------------------------------------------------------------
const texts = [
  ["a photo of a cat", "corpus words"],
  ["A PHOTO OF A CAT", "lowercasing"],
  ["An astronaut riding a horse on the moon, highly detailed, 4k", "typical prompt"],
  ["  leading and   multiple    spaces  ", "whitespace runs collapse, ends drop"],
  ["tabs\tand\nnewlines\r\nhere", "tab, LF, CRLF"],
  ["it's a dog's life, isn't it? we're here, they've gone, I'm ok, you'll see, he'd know", "contractions"],
  ["IT'S LOUD AND WE'RE HERE", "uppercase contractions (lowercased first)"],
  ["rock'n'roll and 'quoted' words", "apostrophes that are not contractions"],
  ["numbers 1234 and 3.14159 or 1,000,000", "digits are single pieces"],
  ["punctuation!!! ... ??? (parens) [brackets] {braces}", "punctuation runs"],
  ["#hashtag @mention $100 50% a_b-c/d\\e", "symbols"],
  ["e-mail: user@example.com, url: https://example.com/a?b=c", "email and url"],
  ["café naïve résumé façade", "precomposed accents"],
  ["cafe\u0301 nai\u0308ve", "combining marks (NFC composes them)"],
  ["Straße and GROSSE STRASSE", "sharp s"],
  ["ΟΔΟΣ ΣΟΦΙΑΣ και Σ", "Greek capitals: final sigma when lowercased"],
  ["İstanbul", "dotted capital I lowercases to i + combining dot"],
  ["Москва ночью", "Cyrillic"],
  ["東京タワー at night", "CJK and kana (byte-level pieces)"],
  ["emoji 🍕🎉 party 👍🏽", "emoji"],
  ["\u00a0non\u00a0breaking\u00a0spaces", "NBSP is whitespace"],
  ["zero\u200bwidth\u200bspace", "ZWSP is not whitespace"],
  ["ﬁ ligature and Ⅻ numeral", "compatibility characters (NFC keeps them)"],
  ["<|startoftext|>hello<|endoftext|>", "special tokens written in the text"],
  ["hello <|endoftext|> world", "eos inside the text"],
  ["", "empty prompt"],
  [" ", "a single space"],
  ["x".repeat(50), "a long run of one letter"],
  ["The Quick Brown Fox, 2 dogs & 3 cats.", "mixed case and punctuation"],
  ["a cute corgi wearing sunglasses, 35mm photo, f/1.8, bokeh", "prompt with numbers"],
  [
    "a very long prompt that goes on and on about a painting of a lighthouse on a rocky coast at sunset " +
      "with dramatic clouds, oil on canvas, and then a cat sitting on a wooden table next to a window in soft " +
      "morning light, and an astronaut riding a horse on the moon, highly detailed, cinematic lighting",
    "longer than 77 tokens: truncated",
  ],
];

const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokenizerJson, tokenizerConfig });
const cases = [];
for (const [text, notes] of texts) {
  const withSpecial = tokenizer.encode(text);
  const plain = tokenizer.encode(text, { add_special_tokens: false });
  if (withSpecial.length !== plain.length + 2 || withSpecial[0] !== bosId || withSpecial.at(-1) !== eosId)
    throw new Error(`unexpected special tokens for ${JSON.stringify(text)}`);
  // padding="max_length", max_length=77, truncation=True as transformers (Python) does it:
  // the text is cut to 75 ids *before* bos/eos are added, so eos always survives.
  // (transformers.js cuts after adding them, dropping eos, so its padded output is not used.)
  const padded = [bosId, ...plain.slice(0, MAX_LENGTH - 2), eosId];
  const mask = padded.map(() => 1);
  while (padded.length < MAX_LENGTH) {
    padded.push(eosId);
    mask.push(0);
  }
  cases.push({ text, notes, ids: withSpecial, ids_without_special_tokens: plain, padded_77: padded, mask_77: mask });
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}
writeJson(path.join(outDir, "fast/tokenizer.json"), tokenizerJson);
writeJson(path.join(outDir, "fast/tokenizer_config.json"), tokenizerConfig);
writeJson(path.join(outDir, "fast/special_tokens_map.json"), specialTokensMap);
writeJson(path.join(outDir, "slow/vocab.json"), vocab);
writeJson(path.join(outDir, "slow/tokenizer_config.json"), tokenizerConfig);
writeJson(path.join(outDir, "slow/special_tokens_map.json"), specialTokensMap);
fs.writeFileSync(
  path.join(outDir, "slow/merges.txt"),
  "#version: 0.2\n" + merges.map(([a, b]) => `${a} ${b}`).join("\n") + "\n"
);
writeJson(path.join(outDir, "cases.json"), cases);
console.log(`${merges.length} merges, vocab ${nextId}, ${cases.length} cases -> ${outDir}`);
