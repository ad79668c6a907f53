export * from "./adxl345.js";
export * from "./adxl345-simulator.js";
export * from "./sensor.js";
export * from "./synthetic.js";
