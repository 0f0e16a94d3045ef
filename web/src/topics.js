// The topic rule of src/audiodas/domain/topics.py, line for line, on the same topics file
// (served at /api/v1/domains): weighted hits per 100 words, plural -s/-es counts.
const WORD = /[a-z0-9]+(?:'[a-z]+)?/g;
const MIN_WORDS = 20;

export function words(text) {
  return text.toLowerCase().match(WORD) ?? [];
}

function same(word, term) {
  return word === term || word === term + "s" || word === term + "es";
}

function count(tokens, phrase) {
  let hits = 0;
  for (let i = 0; i + phrase.length <= tokens.length; i++) {
    if (phrase.every((part, k) => same(tokens[i + k], part))) hits++;
  }
  return hits;
}

export function score(topic, text) {
  const tokens = words(text);
  const counts = {};
  let total = 0;
  for (const [term, weight] of Object.entries(topic.terms)) {
    const hits = count(tokens, term.split(" "));
    if (hits) {
      counts[term] = hits;
      total += weight * hits;
    }
  }
  const value = Math.round((10000 * total) / Math.max(tokens.length, MIN_WORDS)) / 100;
  const matched = Object.keys(counts).sort(
    (a, b) => counts[b] * topic.terms[b] - counts[a] * topic.terms[a] || (a < b ? -1 : 1),
  );
  return { expected: topic.name, score: value, matched, threshold: topic.threshold, on_topic: value >= topic.threshold };
}
