// Injection tokens for what is not a class: the configuration and the store (typed as the
// MessageStore interface, so another engine can be plugged in).
export const BROKER_CONFIG = Symbol('BROKER_CONFIG');
export const MESSAGE_STORE = Symbol('MESSAGE_STORE');
