import './console.css';
import { ConsoleApp } from './app';

const root = document.getElementById('app')!;
new ConsoleApp(root).start();
