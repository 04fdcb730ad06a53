/** Tensors: the in-memory float32 tensor and its documented binary format. */
export * from './tensor';
export * from './format';
