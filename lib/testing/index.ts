/** `eventbus/testing`: placeholder until the test helpers land (owned by the sdk agent). */
export {};
