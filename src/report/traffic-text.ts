// The reports' section on production traffic (`--traffic`): per racing cell, the failures to
// expect a million requests and a day, and where over the request rate they peak.
import type { RunPrediction } from '../predict/predict-run.js';
import { cellLabel, MODEL_ASSUMPTIONS, peakText, predictionSentence, predictionTable } from './prediction-text.js';
import { parseTraffic, trafficText } from '../scenario/traffic.js';

/** One sentence per cell: what its window means at the traffic. */
export function trafficSentences(prediction: RunPrediction): string[] {
  const label = trafficText(parseTraffic(prediction.cells[0]!.traffic));
  return prediction.cells.map((cell) => cell.noUpstreamClose !== null
    ? `${cellLabel(cell)}: no failures from the race: ${cell.noUpstreamClose}.`
    : `${cellLabel(cell)}: ${predictionSentence(cell, label)}.${cell.curve ? ` ${peakText(cell.curve)}` : ''}`);
}

export function trafficMarkdown(prediction: RunPrediction | null): string[] {
  if (!prediction) return [];
  return [
    '## At your traffic',
    '',
    ...trafficSentences(prediction).flatMap((sentence) => [`- ${sentence}`]),
    '',
    predictionTable(prediction),
    '',
    `${MODEL_ASSUMPTIONS} \`keepalive-lab predict DIR --rate RATE --curve\` prints the whole curve.`,
    '',
  ];
}
