// Message record codec, properties codec, msgId codec, Java String.hashCode (issue 3 owns this folder).
export {};
