/** The model-free sampler: schedules, DDIM, guidance, masks, seeded noise, tile blending. */
export * from './schedule';
export * from './ddim';
export * from './guidance';
export * from './masks';
export * from './noise';
export * from './blend';
