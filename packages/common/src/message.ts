// Owned by the storage work (issue 3): Message / MessageExt types, MessageConst property keys, MessageSysFlag.
export {};
