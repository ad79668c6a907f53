/**
 * @medusa/adapters/sensor: the motion sensor port and its implementations,
 * the ADXL345 driver on I2C and the seeded synthetic sensor, each as a layer.
 */
export { Adxl345Sensor, adxl345Layer } from "./adxl345.js";
// For tests and benchmarks: the chip behind the driver's bus interface.
export { Adxl345Simulator } from "./adxl345-simulator.js";
export {
  type MotionReading,
  MotionSensor,
  type MotionSensorService,
  motionSensorLayer,
  SensorError,
  type SensorHealth,
} from "./sensor.js";
export { SyntheticSensor, syntheticSensorLayer } from "./synthetic.js";
