// Java-compatible string hashing: tag codes and index keys must hash exactly as the Java broker does.

/**
 * Java `String.hashCode()`: s[0]*31^(n-1) + ... + s[n-1] over UTF-16 code units, int32 wrap-around.
 * JS strings are UTF-16 too, so charCodeAt gives the same code units (surrogate pairs included).
 */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) {
    h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  }
  return h;
}

/** Tags code of a consume-queue unit: the TAGS hash widened to a (signed) long; 0 without tags. */
export function tagsString2tagsCode(tags: string | undefined): number {
  if (tags === undefined || tags.length === 0) return 0;
  return javaStringHashCode(tags);
}

/** Index key hash: abs(hashCode), with Integer.MIN_VALUE mapped to 0 (Java's abs overflows). */
export function indexKeyHash(key: string): number {
  return absHash(javaStringHashCode(key));
}

/** indexKeyHash(`${topic}#${key}`) without building the string (the index writes two per message). */
// The index hashes two keys of the same topic per message, and busy topics repeat: the topic's hash
// is kept for the next call.
let lastTopic = '';
let lastTopicHash = 0;

export function indexKeyHashOf(topic: string, key: string): number {
  if (topic !== lastTopic) {
    lastTopic = topic;
    lastTopicHash = javaStringHashCode(topic);
  }
  let h = lastTopicHash;
  h = (Math.imul(h, 31) + 0x23) | 0; // '#'
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return absHash(h);
}

function absHash(h: number): number {
  if (h === -2147483648) return 0;
  return h < 0 ? -h : h;
}
